package org.rlhf4j.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.rlhf4j.config.DataSection.Format;

/**
 * The records of a data file, one at a time, so that no reader holds a whole file: JSONL or text
 * ({@link LineRows}) or Parquet, one file or a directory of shards ({@link ParquetRows}). Not
 * thread-safe.
 */
public interface RowReader extends AutoCloseable {
  /**
   * The next record, or null after the last.
   *
   * @throws DataException for a bad record ({@code where: reason})
   */
  Row next() throws IOException;

  @Override
  void close() throws IOException;

  /**
   * Opens file.
   *
   * @param format parquet, jsonl, text, or auto: a directory or a .parquet file is Parquet, else as
   *     {@link LineRows} decides
   * @param textField the field a text file's line becomes
   * @throws DataException when the file is missing or not readable as format
   */
  static RowReader open(Path file, Format format, String textField) throws IOException {
    if (!Files.exists(file)) throw new DataException("prompt file not found: " + file);
    boolean parquet = switch (format) {
      case PARQUET -> true;
      case AUTO -> Files.isDirectory(file) || file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".parquet");
      case JSONL, TEXT -> false;
    };
    if (parquet) return new ParquetRows(file);
    if (Files.isDirectory(file)) throw new DataException(file + ": a directory (only Parquet shards may be)");
    return new LineRows(file, format, textField);
  }
}
