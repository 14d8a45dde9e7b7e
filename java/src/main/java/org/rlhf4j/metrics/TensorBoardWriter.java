package org.rlhf4j.metrics;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;

/**
 * Writes a TensorBoard event file ({@code events.out.tfevents.*}) beside metrics.jsonl: each
 * metric of an iteration as a scalar at step = iteration, so {@code tensorboard --logdir runs/}
 * shows every run. metrics.jsonl stays the source of truth; this is a view of it.
 *
 * <p>Format: TFRecord framing (little-endian uint64 length, masked CRC32C of the length, the
 * bytes, masked CRC32C of the bytes) around {@code tensorflow.Event} protobufs, encoded here by
 * hand (the few fields needed do not justify a protobuf dependency): the first event carries
 * file_version "brain.Event:2"; a resumed run starts a new file whose second event is a
 * SessionLog START at the first step it will write, which tells TensorBoard to drop the older
 * files' points from that step on (those iterations are being redone).
 *
 * <p>Each event is flushed (not fsynced) as it is written. Thread-safe.
 */
public final class TensorBoardWriter implements AutoCloseable {
  /** The prefix of every event file's name, which TensorBoard looks for. */
  public static final String PREFIX = "events.out.tfevents.";

  private static final AtomicLong SEQUENCE = new AtomicLong();
  private static final int MASK_DELTA = 0xa282ead8;
  private static String host;

  private final Path file;
  private final OutputStream out;

  private TensorBoardWriter(Path file, OutputStream out) {
    this.file = file;
    this.out = out;
  }

  /**
   * Starts a new event file in dir. firstStep > 1 marks a resumed run (a SessionLog START at
   * firstStep); pass 0 or 1 for a new one.
   */
  public static TensorBoardWriter create(Path dir, long firstStep) throws IOException {
    long now = System.currentTimeMillis();
    String name = PREFIX + (now / 1000) + "." + host() + "." + ProcessHandle.current().pid() + "."
        + SEQUENCE.incrementAndGet();
    Path file = dir.resolve(name);
    OutputStream out = Files.newOutputStream(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    TensorBoardWriter w = new TensorBoardWriter(file, out);
    try {
      Proto e = new Proto().fixed64(1, now / 1000.0).string(3, "brain.Event:2");
      w.record(e.bytes());
      if (firstStep > 1) {
        // SessionLog { status: START (1) } in Event.session_log (field 6).
        w.record(new Proto().fixed64(1, now / 1000.0).varint(2, firstStep)
            .message(6, new Proto().varint(1, 1)).bytes());
      }
    } catch (IOException e) {
      w.close();
      throw e;
    }
    return w;
  }

  /** Appends one event at step: every metric as a simple_value scalar under its name as tag. */
  public synchronized void scalars(long step, Map<String, Double> metrics) throws IOException {
    Proto summary = new Proto();
    for (Map.Entry<String, Double> m : metrics.entrySet()) {
      summary.message(1, new Proto().string(1, m.getKey()).fixed32(2, m.getValue().floatValue()));
    }
    record(new Proto().fixed64(1, System.currentTimeMillis() / 1000.0).varint(2, step).message(5, summary).bytes());
  }

  public Path file() {
    return file;
  }

  private void record(byte[] data) throws IOException {
    ByteBuffer header = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
    header.putLong(data.length);
    header.putInt(maskedCrc(header.array(), 0, 8));
    ByteBuffer footer = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(maskedCrc(data, 0, data.length));
    ByteArrayOutputStream all = new ByteArrayOutputStream(16 + data.length);
    all.write(header.array());
    all.write(data);
    all.write(footer.array());
    out.write(all.toByteArray());
    out.flush();
  }

  /** TFRecord's masked CRC32C: rotate right by 15 bits, add a constant. */
  static int maskedCrc(byte[] b, int off, int len) {
    CRC32C crc = new CRC32C();
    crc.update(b, off, len);
    int c = (int) crc.getValue();
    return ((c >>> 15) | (c << 17)) + MASK_DELTA;
  }

  /** The host name in event file names (as TensorFlow's), looked up once: it may ask DNS. */
  private static synchronized String host() {
    if (host == null) {
      try {
        host = InetAddress.getLocalHost().getHostName().replaceAll("[^A-Za-z0-9.-]", "_");
      } catch (IOException e) {
        host = "localhost";
      }
    }
    return host;
  }

  @Override
  public synchronized void close() throws IOException {
    out.close();
  }

  /** A protobuf message being encoded: fields appended in order. */
  private static final class Proto {
    private final ByteArrayOutputStream buf = new ByteArrayOutputStream();

    Proto varint(int field, long v) {
      tag(field, 0);
      rawVarint(v);
      return this;
    }

    Proto fixed64(int field, double v) {
      tag(field, 1);
      long bits = Double.doubleToRawLongBits(v);
      for (int i = 0; i < 8; i++) buf.write((int) (bits >>> (8 * i)));
      return this;
    }

    Proto fixed32(int field, float v) {
      tag(field, 5);
      int bits = Float.floatToRawIntBits(v);
      for (int i = 0; i < 4; i++) buf.write(bits >>> (8 * i));
      return this;
    }

    Proto string(int field, String s) {
      return bytes(field, s.getBytes(StandardCharsets.UTF_8));
    }

    Proto message(int field, Proto m) {
      return bytes(field, m.bytes());
    }

    private Proto bytes(int field, byte[] b) {
      tag(field, 2);
      rawVarint(b.length);
      buf.writeBytes(b);
      return this;
    }

    private void tag(int field, int wireType) {
      rawVarint(((long) field << 3) | wireType);
    }

    private void rawVarint(long v) {
      while ((v & ~0x7FL) != 0) {
        buf.write((int) ((v & 0x7F) | 0x80));
        v >>>= 7;
      }
      buf.write((int) v);
    }

    byte[] bytes() {
      return buf.toByteArray();
    }
  }
}
