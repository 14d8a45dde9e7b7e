package org.rlhf4j.engine;

/** Element types of tensors crossing the ABI (R4J_DTYPE_*), with their safetensors names. Thread-safe. */
public enum DType {
  F32(0, 4, "F32"),
  F16(1, 2, "F16"),
  BF16(2, 2, "BF16"),
  I32(3, 4, "I32"),
  I64(4, 8, "I64"),
  U8(5, 1, "U8"),
  F64(6, 8, "F64");

  private final int code;
  private final int size;
  private final String safetensorsName;

  DType(int code, int size, String safetensorsName) {
    this.code = code;
    this.size = size;
    this.safetensorsName = safetensorsName;
  }

  public int code() {
    return code;
  }

  /** Bytes per element. */
  public int size() {
    return size;
  }

  public String safetensorsName() {
    return safetensorsName;
  }

  public static DType ofCode(int code) {
    for (DType d : values()) {
      if (d.code == code) return d;
    }
    throw new IllegalArgumentException("unknown dtype code " + code);
  }

  /** The dtype of a safetensors header name, or null when rlhf4j does not handle it. */
  public static DType ofSafetensors(String name) {
    for (DType d : values()) {
      if (d.safetensorsName.equals(name)) return d;
    }
    return null;
  }
}
