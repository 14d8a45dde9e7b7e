package org.rlhf4j.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.parquet.conf.PlainParquetConfiguration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroup;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.LocalOutputFile;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;
import org.rlhf4j.data.ParquetCodecs;

/**
 * Writes Parquet files for tests with parquet-java's writer, the library the reader uses. Rows are
 * maps as Jackson gives JSON objects: String, Integer, Long, Double, Boolean, byte[] (raw bytes,
 * e.g. invalid UTF-8 in a STRING column), List (a three-level LIST) and Map (a struct); a null or
 * absent value is left unset.
 */
public final class ParquetFiles {
  /** TRL's conversational column: a list of {role, content} structs, as pyarrow writes it. */
  public static final String MESSAGES = """
      optional group %s (LIST) {
        repeated group list {
          optional group element {
            optional binary role (STRING);
            optional binary content (STRING);
          }
        }
      }""";

  private ParquetFiles() {}

  /** Writes rows to file with schema (Parquet's message syntax), Snappy-compressed. */
  public static Path write(Path file, String schema, List<Map<String, Object>> rows) throws IOException {
    return write(file, schema, rows, CompressionCodecName.SNAPPY, ParquetWriter.DEFAULT_BLOCK_SIZE);
  }

  /** Writes rows to file with schema, codec, and row groups of about rowGroupBytes. */
  public static Path write(Path file, String schema, List<Map<String, Object>> rows, CompressionCodecName codec,
      long rowGroupBytes) throws IOException {
    MessageType type = MessageTypeParser.parseMessageType(schema);
    try (ParquetWriter<Group> w = writer(file, type, codec, rowGroupBytes)) {
      for (Map<String, Object> row : rows) w.write(group(type, row));
    }
    return file;
  }

  /** An open writer, for files too big to hold as a list of rows. */
  public static ParquetWriter<Group> writer(Path file, MessageType type, CompressionCodecName codec,
      long rowGroupBytes) throws IOException {
    Files.deleteIfExists(file);
    return ExampleParquetWriter.builder(new LocalOutputFile(file))
        .withConf(new PlainParquetConfiguration())
        .withCodecFactory(new ParquetCodecs())
        .withCompressionCodec(codec)
        .withRowGroupSize(rowGroupBytes)
        .withType(type)
        .build();
  }

  /** The record of row under type. */
  public static Group group(MessageType type, Map<String, Object> row) {
    Group g = new SimpleGroup(type);
    fill(g, row);
    return g;
  }

  private static void fill(Group g, Map<String, ?> values) {
    values.forEach((name, value) -> {
      switch (value) {
        case null -> {}
        case List<?> list -> {
          Group wrapper = g.addGroup(name);
          for (Object element : list) {
            Group item = wrapper.addGroup("list");
            if (element instanceof Map<?, ?> m) {
              @SuppressWarnings("unchecked")
              Map<String, ?> struct = (Map<String, ?>) m;
              fill(item.addGroup("element"), struct);
            } else if (element != null) {
              add(item, "element", element);
            }
          }
        }
        case Map<?, ?> m -> {
          @SuppressWarnings("unchecked")
          Map<String, ?> struct = (Map<String, ?>) m;
          fill(g.addGroup(name), struct);
        }
        default -> add(g, name, value);
      }
    });
  }

  private static void add(Group g, String name, Object value) {
    switch (value) {
      case String s -> g.append(name, s);
      case Integer i -> g.append(name, i);
      case Long l -> g.append(name, l);
      case Double d -> g.append(name, d);
      case Boolean b -> g.append(name, b);
      case byte[] bytes -> g.append(name, Binary.fromConstantByteArray(bytes));
      default -> throw new IllegalArgumentException("no Parquet value for " + value.getClass());
    }
  }
}
