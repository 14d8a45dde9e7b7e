package org.rlhf4j.metrics;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The parsed content of a metrics.jsonl file: its complete entries with their byte ranges, and
 * where the trustworthy part of the file ends. A final line without its newline is kept if it is
 * a whole entry (the write got everything but the newline out) and dropped otherwise.
 */
record MetricsScan(List<MetricsRecord> records, List<long[]> ranges, long validEnd, boolean needsNewline,
    long size) {

  /** Where to cut the file so that it keeps only entries up to an iteration. */
  record Cut(long end, boolean needsNewline, long tornBytes, int dropped, long lastIteration) {}

  static MetricsScan of(Path file, byte[] bytes) throws IOException {
    List<MetricsRecord> records = new ArrayList<>();
    List<long[]> ranges = new ArrayList<>();
    long validEnd = 0;
    boolean needsNewline = false;
    int pos = 0;
    for (int lineNo = 1; pos < bytes.length; lineNo++) {
      int nl = indexOfNewline(bytes, pos);
      boolean complete = nl >= 0;
      int next = complete ? nl + 1 : bytes.length;
      String text = new String(bytes, pos, (complete ? nl : bytes.length) - pos, StandardCharsets.UTF_8).strip();
      if (!text.isEmpty()) {
        try {
          records.add(MetricsJson.parse(text));
          ranges.add(new long[] {pos, next});
          needsNewline = !complete;
        } catch (IllegalArgumentException e) {
          if (!onlyWhitespace(bytes, next)) throw new IOException(file + ":" + lineNo + ": " + e.getMessage());
          break; // a torn last line: validEnd stays before it
        }
      } else if (!complete) {
        break;
      }
      validEnd = next;
      pos = next;
    }
    return new MetricsScan(List.copyOf(records), List.copyOf(ranges), validEnd, needsNewline, bytes.length);
  }

  /** The cut that keeps every entry before the first one with an iteration above keepThrough. */
  Cut cutAfter(long keepThrough) {
    int first = 0;
    long last = -1;
    while (first < records.size() && records.get(first).iteration() <= keepThrough) {
      last = Math.max(last, records.get(first).iteration());
      first++;
    }
    long torn = size - validEnd;
    if (first == records.size()) return new Cut(validEnd, needsNewline, torn, 0, last);
    return new Cut(ranges.get(first)[0], false, torn, records.size() - first, last);
  }

  private static int indexOfNewline(byte[] bytes, int from) {
    for (int i = from; i < bytes.length; i++) if (bytes[i] == '\n') return i;
    return -1;
  }

  private static boolean onlyWhitespace(byte[] bytes, int from) {
    for (int i = from; i < bytes.length; i++) if (!Character.isWhitespace(bytes[i])) return false;
    return true;
  }
}
