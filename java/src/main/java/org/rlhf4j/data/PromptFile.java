package org.rlhf4j.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.config.DataSection.Format;

/**
 * Reads a whole data file through a {@link RowReader}: JSONL (one JSON object a line, the prompt in
 * a string field, the other fields kept), UTF-8 text (one prompt a line), or Parquet (a file or a
 * directory of shards; columns are fields by name). Errors name the file and the line or row:
 * {@code file:line: reason} or {@code file: row N: reason}. Stateless and thread-safe.
 */
public final class PromptFile {
  /**
   * One prompt as the file has it.
   *
   * @param where {@code file:line} or {@code file: row N}, to begin error messages with
   * @param line 1-based number of the record in the data set
   * @param text the prompt
   * @param fields the record's other fields (empty for text files)
   * @param messages the conversation text renders, as the file has it, or null for a plain string
   */
  public record Line(String where, int line, String text, Map<String, Object> fields,
      List<Map<String, Object>> messages) {
    /** A plain-string prompt. */
    public Line(String where, int line, String text, Map<String, Object> fields) {
      this(where, line, text, fields, null);
    }

    /**
     * Whether text is a conversation rendered by its chat template (which writes any BOS itself,
     * so none is added when tokenizing).
     */
    public boolean chat() {
      return messages != null;
    }
  }

  private PromptFile() {}

  /**
   * The prompts of file, in file order.
   *
   * @param format see {@link RowReader#open}
   * @param field the field holding the prompt
   * @throws DataException when the file is missing, not UTF-8, has a bad record or no prompt
   * @throws IOException when it cannot be read otherwise
   */
  public static List<Line> read(Path file, Format format, String field) throws IOException {
    return read(file, format, field, null);
  }

  /**
   * As {@link #read(Path, Format, String)}, where a prompt may also be a list of messages, which
   * chat renders with the generation prompt.
   *
   * @param chat renders conversations, or null when the prompt must be a string
   */
  public static List<Line> read(Path file, Format format, String field, ChatPrompts chat) throws IOException {
    List<Line> out = new ArrayList<>();
    try (RowReader rows = RowReader.open(file, format, field)) {
      for (Row row = rows.next(); row != null; row = rows.next()) {
        boolean conversation = chat != null && ChatPrompts.isConversation(row, field);
        String text = conversation ? chat.render(row, field) : row.text(field);
        Map<String, Object> fields = new LinkedHashMap<>(row.fields());
        fields.remove(field);
        out.add(new Line(row.where(), row.line(), text, fields, conversation ? messages(row.fields().get(field)) : null));
      }
    }
    return nonEmpty(file, out);
  }

  /** A conversation as Jackson read it (checked when rendered), unmodifiable. */
  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> messages(Object list) {
    return Collections.unmodifiableList(new ArrayList<>((List<Map<String, Object>>) list));
  }

  /** The records of file, in file order, with the rules and errors of {@link #read}. */
  public static List<Row> readRows(Path file, Format format, String textField) throws IOException {
    List<Row> out = new ArrayList<>();
    try (RowReader rows = RowReader.open(file, format, textField)) {
      for (Row row = rows.next(); row != null; row = rows.next()) out.add(row);
    }
    return nonEmpty(file, out);
  }

  private static <T> List<T> nonEmpty(Path file, List<T> records) {
    if (records.isEmpty()) throw new DataException(file + ": no prompts (the file is empty)");
    return records;
  }
}
