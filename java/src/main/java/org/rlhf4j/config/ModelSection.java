package org.rlhf4j.config;

import java.nio.file.Path;

/** Section {@code model} of the sft and train-rm commands: the model to start from. */
public record ModelSection(
    @Doc("Checkpoint directory (Hugging Face layout) of the model to start from (required).") @Nullable Path path,
    @Doc("Weights and activations: f32, bf16 or f16.") Precision dtype) {

  public ModelSection {
    Check.notNull("dtype", dtype);
  }

  public static ModelSection defaults() {
    return new ModelSection(null, Precision.F32);
  }
}
