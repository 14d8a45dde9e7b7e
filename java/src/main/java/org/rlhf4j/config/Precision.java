package org.rlhf4j.config;

import org.rlhf4j.engine.DType;

/** Floating-point type of a model's weights and activations ({@code model.dtype}). */
public enum Precision {
  F32(DType.F32),
  BF16(DType.BF16),
  F16(DType.F16);

  private final DType dtype;

  Precision(DType dtype) {
    this.dtype = dtype;
  }

  /** The engine's element type. */
  public DType dtype() {
    return dtype;
  }
}
