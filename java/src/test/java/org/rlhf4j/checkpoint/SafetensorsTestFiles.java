package org.rlhf4j.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds safetensors files byte by byte, valid or not, for the reader's tests. */
final class SafetensorsTestFiles {
  private SafetensorsTestFiles() {}

  /** 8-byte little-endian header length, the header, then data. */
  static Path raw(Path file, String header, byte[] data) throws IOException {
    byte[] json = header.getBytes(StandardCharsets.UTF_8);
    return raw(file, json.length, json, data);
  }

  /** Like {@link #raw(Path, String, byte[])} with a header length that need not be the header's. */
  static Path raw(Path file, long headerLength, byte[] header, byte[] data) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(headerLength).put(header).put(data);
    Files.write(file, b.array());
    return file;
  }

  /** count little-endian floats 1, 2, 3, ... */
  static byte[] floats(int count) {
    ByteBuffer b = ByteBuffer.allocate(4 * count).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < count; i++) b.putFloat(i + 1);
    return b.array();
  }
}
