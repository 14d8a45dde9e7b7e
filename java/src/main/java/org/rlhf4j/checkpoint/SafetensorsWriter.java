package org.rlhf4j.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.rlhf4j.engine.TensorInfo;

/**
 * Writes safetensors files. Tensors are laid out in the caller's order, stably regrouped by
 * element size (largest first) so every tensor starts at a multiple of its element size
 * without gaps between them (the format forbids gaps); the header is padded with spaces so
 * the data region starts 8-byte aligned. The file is memory-mapped and each tensor's bytes
 * are produced in place by a {@link Filler} (for a model: its native read, no copy on the
 * Java heap), then flushed and fsynced.
 *
 * <p>Thread-safety: stateless; concurrent writes to different files are fine.
 */
public final class SafetensorsWriter {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Produces one tensor's bytes into dst (exactly its byte size, in its dtype, little-endian). */
  @FunctionalInterface
  public interface Filler {
    void fill(TensorInfo tensor, MemorySegment dst);
  }

  private SafetensorsWriter() {}

  /**
   * Writes tensors (unique names, none called __metadata__) and string metadata to file. If
   * the filler or the disk fails, the file is left incomplete: write into a temp directory
   * (as {@link CheckpointWriter} does) when that matters.
   */
  public static void write(Path file, List<TensorInfo> tensors, Map<String, String> metadata, Filler filler) {
    List<TensorInfo> ordered = layoutOrder(tensors, file);
    ObjectNode header = JSON.createObjectNode();
    if (!metadata.isEmpty()) {
      ObjectNode meta = header.putObject(SafetensorsHeader.METADATA_KEY);
      metadata.forEach(meta::put);
    }
    long offset = 0;
    long[] begins = new long[ordered.size()];
    for (int i = 0; i < ordered.size(); i++) {
      TensorInfo t = ordered.get(i);
      long bytes = Math.multiplyExact(t.numel(), (long) t.dtype().size());
      ObjectNode entry = header.putObject(t.name());
      entry.put("dtype", t.dtype().safetensorsName());
      ArrayNode shape = entry.putArray("shape");
      for (long d : t.shape()) shape.add(d);
      entry.putArray("data_offsets").add(offset).add(offset + bytes);
      begins[i] = offset;
      offset += bytes;
    }
    byte[] json = padded(header.toString().getBytes(StandardCharsets.UTF_8));
    long dataStart = Long.BYTES + json.length;
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.READ, StandardOpenOption.WRITE);
        Arena arena = Arena.ofConfined()) {
      MemorySegment out = channel.map(FileChannel.MapMode.READ_WRITE, 0, dataStart + offset, arena);
      out.set(SafetensorsFile.HEADER_LENGTH, 0, json.length);
      MemorySegment.copy(json, 0, out, ValueLayout.JAVA_BYTE, Long.BYTES, json.length);
      for (int i = 0; i < ordered.size(); i++) {
        TensorInfo t = ordered.get(i);
        long bytes = t.numel() * t.dtype().size();
        filler.fill(t, out.asSlice(dataStart + begins[i], bytes));
      }
      out.force();
      channel.force(true);
    } catch (IOException e) {
      throw new CheckpointException("cannot write " + file + ": " + Messages.oneLine(e.toString()), e);
    }
  }

  private static List<TensorInfo> layoutOrder(List<TensorInfo> tensors, Path file) {
    Set<String> names = new HashSet<>();
    for (TensorInfo t : tensors) {
      if (t.name().equals(SafetensorsHeader.METADATA_KEY) || !names.add(t.name())) {
        throw new IllegalArgumentException("cannot write " + file + ": tensor name " + Messages.quote(t.name())
            + " is reserved or repeated");
      }
      for (long d : t.shape()) {
        if (d < 0) throw new IllegalArgumentException("cannot write " + file + ": tensor " + t + " has a negative dimension");
      }
    }
    List<TensorInfo> ordered = new ArrayList<>(tensors);
    ordered.sort(Comparator.comparingInt((TensorInfo t) -> t.dtype().size()).reversed());
    return ordered;
  }

  /** The header with trailing spaces so that 8 + its length is a multiple of 8. */
  private static byte[] padded(byte[] json) {
    int length = (json.length + 7) / 8 * 8;
    byte[] out = Arrays.copyOf(json, length);
    Arrays.fill(out, json.length, length, (byte) ' ');
    return out;
  }
}
