package org.rlhf4j.config;

import java.nio.file.Path;
import org.rlhf4j.engine.MemoryOptions;

/** Section {@code model} of the ppo command: the SFT policy and how the critic is made. */
public record PpoModelSection(
    @Doc("Checkpoint directory (Hugging Face layout) of the SFT policy, also the frozen reference (required).")
        @Nullable Path path,
    @Doc("Critic: a value head on the policy's trunk (shared) or a model of its own (separate).") Critic critic,
    @Doc("Checkpoint of a separate critic (null = start it from model.path).") @Nullable Path criticPath,
    @Doc("Weights and activations: f32, bf16 or f16.") Precision dtype,
    @Doc(MemoryDocs.LOGITS_CHUNK) long logitsChunk,
    @Doc(MemoryDocs.ATTENTION_CHUNK) long attentionChunk,
    @Doc(MemoryDocs.GRADIENT_CHECKPOINTING) boolean gradientCheckpointing,
    @Doc(MemoryDocs.LORA) LoraSection lora) {

  /** Where the value estimates come from. */
  public enum Critic {
    /** A value head on the policy's last hidden state. */
    SHARED,
    /** A second model with its own trunk and value head. */
    SEPARATE
  }

  public PpoModelSection {
    Check.notNull("critic", critic);
    Check.notNull("dtype", dtype);
    Check.atLeast("model.logits_chunk", logitsChunk, 0);
    Check.atLeast("model.attention_chunk", attentionChunk, 0);
    Check.notNull("lora", lora);
  }

  public static PpoModelSection defaults() {
    return new PpoModelSection(null, Critic.SHARED, null, Precision.F32, MemoryOptions.DEFAULT_LOGITS_CHUNK,
        MemoryOptions.DEFAULT_ATTENTION_CHUNK, false, LoraSection.defaults());
  }

  /** The memory options every model of the run gets. */
  public MemoryOptions memory() {
    return new MemoryOptions(logitsChunk, gradientCheckpointing, attentionChunk);
  }

  /** The checkpoint a separate critic starts from: critic_path, else path. */
  public Path criticCheckpoint() {
    return criticPath != null ? criticPath : path;
  }
}
