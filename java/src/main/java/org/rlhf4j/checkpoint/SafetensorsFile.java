package org.rlhf4j.checkpoint;

import static org.rlhf4j.checkpoint.Messages.quote;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A safetensors file opened for reading. The file is memory-mapped, not copied: {@link
 * #data} hands out slices of the mapping that native code can read directly. The header is
 * validated as untrusted input when the file is opened; any malformed file is a {@link
 * SafetensorsException} naming the file and the problem.
 *
 * <p>Thread-safety: immutable once open; slices may be read from any thread until {@link
 * #close()}, which must not run concurrently with reads.
 */
public final class SafetensorsFile implements AutoCloseable {
  static final ValueLayout.OfLong HEADER_LENGTH =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private final Path path;
  private final Arena arena;
  private final MemorySegment data;
  private final List<TensorEntry> tensors;
  private final Map<String, TensorEntry> byName;
  private final Map<String, String> metadata;

  private SafetensorsFile(Path path, Arena arena, MemorySegment data, SafetensorsHeader.Parsed header) {
    this.path = path;
    this.arena = arena;
    this.data = data;
    this.tensors = header.tensors();
    this.metadata = header.metadata();
    Map<String, TensorEntry> map = new LinkedHashMap<>();
    for (TensorEntry e : tensors) map.put(e.name(), e);
    this.byName = map;
  }

  /** Maps and validates the file. */
  public static SafetensorsFile open(Path path) {
    String source = path.toString();
    Arena arena = Arena.ofShared();
    try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
      long size = channel.size();
      if (size < Long.BYTES) {
        throw new SafetensorsException(source, "the file has " + size + " bytes, fewer than the 8-byte header length");
      }
      MemorySegment whole = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
      long headerBytes = whole.get(HEADER_LENGTH, 0);
      long room = size - Long.BYTES;
      if (headerBytes < 0 || headerBytes > room) {
        throw new SafetensorsException(source, "header length " + Long.toUnsignedString(headerBytes)
            + " reaches beyond the end of the file (" + room + " bytes follow the length)");
      }
      if (headerBytes > SafetensorsHeader.MAX_HEADER_BYTES) {
        throw new SafetensorsException(source, "header length " + headerBytes + " exceeds the limit of "
            + SafetensorsHeader.MAX_HEADER_BYTES + " bytes");
      }
      byte[] header = whole.asSlice(Long.BYTES, headerBytes).toArray(ValueLayout.JAVA_BYTE);
      MemorySegment data = whole.asSlice(Long.BYTES + headerBytes);
      SafetensorsHeader.Parsed parsed = SafetensorsHeader.parse(header, data.byteSize(), source);
      return new SafetensorsFile(path, arena, data, parsed);
    } catch (IOException e) {
      arena.close();
      throw new SafetensorsException(source, "cannot read: " + Messages.oneLine(e.toString()), e);
    } catch (RuntimeException e) {
      arena.close();
      throw e;
    }
  }

  public Path path() {
    return path;
  }

  /** Every tensor, in the order of their data in the file. */
  public List<TensorEntry> tensors() {
    return tensors;
  }

  public Optional<TensorEntry> find(String name) {
    return Optional.ofNullable(byName.get(name));
  }

  /** The header's {@code __metadata__} (empty when absent). */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** The tensor's bytes: a read-only slice of the mapping, valid until {@link #close()}. */
  public MemorySegment data(TensorEntry entry) {
    if (byName.get(entry.name()) != entry) {
      throw new IllegalArgumentException(path + ": " + quote(entry.name()) + " is not an entry of this file");
    }
    return data.asSlice(entry.begin(), entry.byteSize()).asReadOnly();
  }

  /** Unmaps the file; slices handed out before become unusable. Idempotent. */
  @Override
  public void close() {
    if (arena.scope().isAlive()) arena.close();
  }
}
