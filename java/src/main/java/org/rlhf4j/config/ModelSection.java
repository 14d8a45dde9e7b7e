package org.rlhf4j.config;

import java.nio.file.Path;
import org.rlhf4j.engine.MemoryOptions;

/** Section {@code model} of the sft and train-rm commands: the model to start from. */
public record ModelSection(
    @Doc("Checkpoint directory (Hugging Face layout) of the model to start from (required).") @Nullable Path path,
    @Doc("Weights and activations: f32, bf16 or f16.") Precision dtype,
    @Doc(MemoryDocs.LOGITS_CHUNK) long logitsChunk,
    @Doc(MemoryDocs.ATTENTION_CHUNK) long attentionChunk,
    @Doc(MemoryDocs.GRADIENT_CHECKPOINTING) boolean gradientCheckpointing,
    @Doc(MemoryDocs.LORA) LoraSection lora) {

  public ModelSection {
    Check.notNull("dtype", dtype);
    Check.atLeast("model.logits_chunk", logitsChunk, 0);
    Check.atLeast("model.attention_chunk", attentionChunk, 0);
    Check.notNull("lora", lora);
  }

  public static ModelSection defaults() {
    return new ModelSection(null, Precision.F32, MemoryOptions.DEFAULT_LOGITS_CHUNK,
        MemoryOptions.DEFAULT_ATTENTION_CHUNK, false, LoraSection.defaults());
  }

  /** The memory options every model of the run gets. */
  public MemoryOptions memory() {
    return new MemoryOptions(logitsChunk, gradientCheckpointing, attentionChunk);
  }
}
