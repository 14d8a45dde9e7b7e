package org.rlhf4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.TensorInfo;

/**
 * Seeded mutations of valid files: every input must load (and its tensors be readable) or be
 * rejected with a SafetensorsException; anything else, or a hang, fails. A few thousand inputs
 * run by default; -Drlhf4j.fuzz.iterations=N runs N (the failing input is kept for replay).
 */
class SafetensorsFuzzTest {
  private static final long SEED = 20240611L;
  private static final int DEFAULT_ITERATIONS = 2000;
  private static final String[] FRAGMENTS = {
    "{", "}", "[", "]", ",", ":", "\"", "null", "true", "-1", "0", "1.5", "1e999", "99999999999999999999",
    "18446744073709551615", "\"F32\"", "\"BF16\"", "\"BOOL\"", "\"__metadata__\"", "\"shape\":[]", "\"shape\":[0]",
    "\"data_offsets\":[0,0]", "\"data_offsets\":[0,4294967296]", "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}",
    "\"a\"", "\"\\u0000\"", "\\", "[[[[[[[[[[", "\"x\":{}", "\u00e9", "\uffff",
  };

  @TempDir Path tmp;

  @Test
  void everyMutatedFileLoadsOrFailsCleanly() throws IOException {
    int iterations = Integer.getInteger("rlhf4j.fuzz.iterations", DEFAULT_ITERATIONS);
    List<byte[]> seeds = List.of(seedFile("small", 1), seedFile("mixed", 2), seedFile("meta", 3));
    Path input = tmp.resolve("input.safetensors");
    Random random = new Random(SEED);
    long[] stats = new long[2];
    assertTimeoutPreemptively(Duration.ofSeconds(Math.max(60, iterations / 100)), () -> {
      for (int i = 0; i < iterations; i++) {
        byte[] mutated = mutate(seeds.get(random.nextInt(seeds.size())), random);
        Files.write(input, mutated);
        try (SafetensorsFile file = SafetensorsFile.open(input)) {
          for (TensorEntry e : file.tensors()) touch(file.data(e));
          stats[0]++;
        } catch (SafetensorsException expected) {
          stats[1]++;
        } catch (Throwable t) {
          Path kept = Path.of("target", "fuzz-failure-" + i + ".safetensors");
          Files.createDirectories(kept.getParent());
          Files.write(kept, mutated);
          fail("input " + i + " (kept at " + kept + ") threw " + t, t);
        }
      }
    });
    System.out.printf("safetensors fuzz: %d inputs survived (%d loaded, %d rejected)%n", iterations, stats[0], stats[1]);
  }

  private static long touch(MemorySegment data) {
    long sum = 0;
    for (long i = 0; i < data.byteSize(); i++) sum += data.get(ValueLayout.JAVA_BYTE, i);
    return sum;
  }

  private byte[] seedFile(String name, int seed) throws IOException {
    Random random = new Random(seed);
    List<TensorInfo> tensors = switch (name) {
      case "small" -> List.of(new TensorInfo("w", DType.F32, new long[] {2, 2}));
      case "mixed" -> List.of(new TensorInfo("transformer.wte.weight", DType.BF16, new long[] {3, 2}),
          new TensorInfo("ids", DType.I64, new long[] {2}), new TensorInfo("flag", DType.U8, new long[] {}),
          new TensorInfo("none", DType.F16, new long[] {0}));
      default -> List.of(new TensorInfo("step", DType.F64, new long[] {1}), new TensorInfo("b", DType.I32, new long[] {3}));
    };
    Map<String, byte[]> bytes = new HashMap<>();
    for (TensorInfo t : tensors) {
      byte[] data = new byte[(int) (t.numel() * t.dtype().size())];
      random.nextBytes(data);
      bytes.put(t.name(), data);
    }
    Map<String, String> metadata = name.equals("meta") ? Map.of("format", "pt", "step", "12") : Map.of();
    Path file = tmp.resolve(name + ".safetensors");
    SafetensorsWriterTest.write(file, tensors, bytes, metadata);
    return Files.readAllBytes(file);
  }

  private static byte[] mutate(byte[] seed, Random random) {
    byte[] out = seed.clone();
    int rounds = 1 + random.nextInt(2);
    for (int r = 0; r < rounds; r++) {
      // Mostly splices that keep the length field right, so inputs get past the framing.
      int kind = random.nextInt(20);
      if (kind < 6) out = flipBytes(out, random);
      else if (kind < 8) out = Arrays.copyOf(out, random.nextInt(out.length + 1));
      else if (kind < 10) out = withHeaderLength(out, random);
      else if (kind < 19) out = spliceJson(out, random, true);
      else out = spliceJson(out, random, false);
    }
    return out;
  }

  private static byte[] flipBytes(byte[] in, Random random) {
    byte[] out = in.clone();
    if (out.length == 0) return out;
    int flips = 1 + random.nextInt(4);
    for (int i = 0; i < flips; i++) {
      // Bias towards the header, where the parser's decisions are made.
      int at = random.nextBoolean() ? random.nextInt(out.length) : random.nextInt(Math.min(out.length, 8 + headerLength(in)));
      out[at] ^= (byte) (1 << random.nextInt(8));
    }
    return out;
  }

  private static byte[] withHeaderLength(byte[] in, Random random) {
    if (in.length < 8) return in;
    byte[] out = in.clone();
    long current = headerLength(in);
    long length = switch (random.nextInt(4)) {
      case 0 -> current + random.nextInt(17) - 8;
      case 1 -> random.nextLong();
      case 2 -> out.length - 8 - random.nextInt(8);
      default -> 100_000_000L + random.nextInt(3) - 1;
    };
    ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(0, length);
    return out;
  }

  /** Replaces a span of the header with a fragment; fixes the length field when asked. */
  private static byte[] spliceJson(byte[] in, Random random, boolean fixLength) {
    int header = headerLength(in);
    if (in.length < 8 || header <= 0 || 8 + header > in.length) return in;
    int from = random.nextInt(header);
    int to = Math.min(header, from + random.nextInt(12));
    byte[] fragment = FRAGMENTS[random.nextInt(FRAGMENTS.length)].getBytes(StandardCharsets.UTF_8);
    ByteBuffer out = ByteBuffer.allocate(in.length - (to - from) + fragment.length).order(ByteOrder.LITTLE_ENDIAN);
    out.put(in, 0, 8 + from).put(fragment).put(in, 8 + to, in.length - 8 - to);
    if (fixLength) out.putLong(0, header - (to - from) + fragment.length);
    return out.array();
  }

  private static int headerLength(byte[] in) {
    if (in.length < 8) return 0;
    long n = ByteBuffer.wrap(in).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    return n < 0 || n > in.length ? 0 : (int) n;
  }
}
