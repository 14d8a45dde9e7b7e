package org.rlhf4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rlhf4j.checkpoint.SafetensorsTestFiles.floats;
import static org.rlhf4j.checkpoint.SafetensorsTestFiles.raw;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rlhf4j.engine.DType;

class SafetensorsReaderTest {
  @TempDir Path tmp;

  private static final String A = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

  private void assertRejected(Path file, String problem) {
    SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(file).close());
    assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
    assertTrue(e.getMessage().contains(problem), "expected '" + problem + "' in: " + e.getMessage());
    assertFalse(e.getMessage().contains("\n"), e.getMessage());
  }

  @Test
  void readsAValidFile() throws IOException {
    Path f = raw(tmp.resolve("ok.safetensors"),
        "{\"__metadata__\":{\"format\":\"pt\"}," + A + ",\"b\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[8,12]}}",
        floats(3));
    try (SafetensorsFile file = SafetensorsFile.open(f)) {
      assertEquals(Map.of("format", "pt"), file.metadata());
      assertEquals(2, file.tensors().size());
      TensorEntry b = file.find("b").orElseThrow();
      assertEquals(DType.F32, b.info().dtype());
      assertArrayEquals(new long[] {1, 1}, b.info().shape());
      float[] values = file.data(file.find("a").orElseThrow())
          .toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
      assertArrayEquals(new float[] {1, 2}, values);
    }
  }

  @Test
  void rejectsAFileShorterThanTheLengthField() throws IOException {
    Path f = Files.write(tmp.resolve("short.safetensors"), new byte[] {1, 2, 3});
    assertRejected(f, "fewer than the 8-byte header length");
  }

  @Test
  void rejectsAHeaderLengthBeyondTheFile() throws IOException {
    assertRejected(raw(tmp.resolve("f"), 1000, "{}".getBytes(), new byte[0]), "beyond the end of the file");
    assertRejected(raw(tmp.resolve("g"), -1, "{}".getBytes(), new byte[0]), "header length 18446744073709551615");
  }

  @Test
  void rejectsAHeaderLengthAboveTheCap() throws IOException {
    Path f = raw(tmp.resolve("huge.safetensors"), 100_000_001L, "{}".getBytes(), new byte[0]);
    try (RandomAccessFile file = new RandomAccessFile(f.toFile(), "rw")) {
      file.setLength(8 + 100_000_001L); // sparse: costs no disk
    }
    assertRejected(f, "exceeds the limit of 100000000 bytes");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
      invalid JSON          | {"a":                                                              | invalid JSON header
      not an object         | [1, 2]                                                             | the header is not a JSON object
      trailing content      | {} {}                                                              | unexpected content after
      non-object entry      | {"a": 5}                                                           | tensor 'a': entry is not a JSON object
      unknown dtype         | {"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,8]}}          | tensor 'a': unsupported dtype 'F8_E4M3'
      dtype not a string    | {"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}                  | tensor 'a': dtype is not a string
      byte-count mismatch   | {"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}              | needs 12 bytes but data_offsets [0, 8] span 8
      negative shape        | {"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}             | shape holds a negative number -2
      overflowing shape     | {"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}} | overflows a 64-bit byte count
      shape beyond 64 bits  | {"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}} | beyond 64 bits
      fractional shape      | {"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}            | shape holds a non-integer
      shape not an array    | {"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}                | shape is not an array
      three offsets         | {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}            | data_offsets has more than 2 entries
      one offset            | {"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}                | data_offsets must be [begin, end]
      reversed offsets      | {"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}              | end before they begin
      offsets out of range  | {"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}             | reach beyond the data region of 8 bytes
      missing offsets       | {"a":{"dtype":"F32","shape":[2]}}                                  | tensor 'a': missing data_offsets
      missing dtype         | {"a":{"shape":[2],"data_offsets":[0,8]}}                           | tensor 'a': missing dtype
      unexpected key        | {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}        | tensor 'a': unexpected key 'x'
      overlap               | {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}} | tensors 'a' and 'b' overlap
      gap                   | {"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}              | bytes [0, 4) before tensor 'a' belong to no tensor
      uncovered end         | {"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}              | bytes [4, 8) at the end of the data region belong to no tensor
      duplicate name        | {"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}} | Duplicate field 'a'
      duplicate entry key   | {"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}} | Duplicate field 'dtype'
      non-string metadata   | {"__metadata__":{"step":3},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} | __metadata__ value of 'step' is not a string
      metadata not object   | {"__metadata__":"x","a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} | __metadata__ is not a JSON object
      """)
  void rejectsAMalformedHeader(String label, String header, String problem) throws IOException {
    assertRejected(raw(tmp.resolve(label.replace(' ', '-') + ".safetensors"), header, floats(2)), problem);
  }

  @Test
  void rejectsAHeaderThatIsNotUtf8() throws IOException {
    byte[] header = {'{', '"', (byte) 0xff, '"', ':', '1', '}'};
    assertRejected(raw(tmp.resolve("latin.safetensors"), header.length, header, new byte[0]), "not valid UTF-8");
  }

  @Test
  void quotesUntrustedNamesOnOneShortLine() throws IOException {
    String name = "x\n".repeat(500);
    String header = "{\"" + name.replace("\n", "\\n") + "\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    Path f = raw(tmp.resolve("long.safetensors"), header, floats(2));
    SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(f));
    assertTrue(e.getMessage().contains("x\\u000a"), e.getMessage());
    assertTrue(e.getMessage().length() < 400, e.getMessage());
  }

  @Test
  void acceptsEmptyAndZeroSizeTensors() throws IOException {
    Path f = raw(tmp.resolve("empty.safetensors"),
        "{\"e\":{\"dtype\":\"I64\",\"shape\":[0,3],\"data_offsets\":[0,0]},\"s\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}",
        new byte[] {7});
    try (SafetensorsFile file = SafetensorsFile.open(f)) {
      assertEquals(0, file.data(file.find("e").orElseThrow()).byteSize());
      assertEquals(7, file.data(file.find("s").orElseThrow()).get(ValueLayout.JAVA_BYTE, 0));
    }
  }
}
