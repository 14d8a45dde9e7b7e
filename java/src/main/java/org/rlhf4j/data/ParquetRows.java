package org.rlhf4j.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.apache.parquet.ParquetReadOptions;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.conf.PlainParquetConfiguration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.LocalInputFile;
import org.apache.parquet.io.MessageColumnIO;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.schema.MessageType;

/**
 * The rows of a Parquet file, or of every *.parquet file of a directory in name order (Hugging
 * Face's shards, e.g. {@code train-00000-of-00004.parquet}), read one row group at a time: memory
 * holds one row group's column chunks, never the file. Columns are fields by name ({@link
 * ParquetValues}). Not thread-safe.
 */
final class ParquetRows implements RowReader {
  private final Deque<Path> shards;
  private Path file;
  private ParquetFileReader reader;
  private MessageColumnIO columns;
  private GroupRecordConverter converter;
  private RecordReader<Group> records;
  private long left;
  private long rowInFile;
  private int line;

  /** @param path a .parquet file or a directory of them */
  ParquetRows(Path path) throws IOException {
    this.shards = new ArrayDeque<>(shards(path));
  }

  @Override
  public Row next() throws IOException {
    while (left == 0) {
      if (!nextRowGroup()) return null;
    }
    Group record;
    try {
      record = records.read();
    } catch (RuntimeException e) {
      throw unreadable(e);
    }
    left--;
    rowInFile++;
    line++;
    String where = file + ": row " + rowInFile;
    return new Row(where, line, ParquetValues.record(record, where));
  }

  @Override
  public void close() throws IOException {
    if (reader != null) reader.close();
    reader = null;
  }

  /** Moves to the next row group, opening the next shard when this one is done; false at the end. */
  private boolean nextRowGroup() throws IOException {
    records = null;  // lets the finished row group go before the next one is read
    PageReadStore group = null;
    while (group == null) {
      if (reader == null && !openNextShard()) return false;
      try {
        group = reader.readNextRowGroup();
      } catch (IOException | RuntimeException e) {
        throw unreadable(e);
      }
      if (group == null) close();
    }
    records = columns.getRecordReader(group, converter);
    left = group.getRowCount();
    return true;
  }

  private boolean openNextShard() throws IOException {
    if (shards.isEmpty()) return false;
    file = shards.removeFirst();
    rowInFile = 0;
    // Our codec factory and a plain configuration keep parquet-java off Hadoop's code paths.
    ParquetReadOptions options = ParquetReadOptions.builder(new PlainParquetConfiguration())
        .withCodecFactory(new ParquetCodecs())
        .build();
    try {
      reader = ParquetFileReader.open(new LocalInputFile(file), options);
    } catch (IOException | RuntimeException e) {
      throw unreadable(e);
    }
    MessageType schema = reader.getFooter().getFileMetaData().getSchema();
    columns = new ColumnIOFactory().getColumnIO(schema);
    converter = new GroupRecordConverter(schema);
    return true;
  }

  private DataException unreadable(Exception e) {
    if (e instanceof DataException d) return d;
    String reason = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
    return new DataException(file + (rowInFile > 0 ? ": after row " + rowInFile : "")
        + ": not a readable Parquet file: " + reason);
  }

  private static List<Path> shards(Path path) throws IOException {
    if (!Files.isDirectory(path)) return List.of(path);
    List<Path> shards;
    try (Stream<Path> files = Files.list(path)) {
      shards = files.filter(f -> f.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".parquet"))
          .filter(Files::isRegularFile)
          .sorted()
          .toList();
    }
    if (shards.isEmpty()) throw new DataException(path + ": no .parquet files in this directory");
    return shards;
  }
}
