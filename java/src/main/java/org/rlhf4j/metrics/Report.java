package org.rlhf4j.metrics;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A run report: one self-contained HTML file (inline CSS and SVG charts, no script, no network)
 * that opens offline, plus the same content as JSON beside it for programs.
 *
 * <pre>{@code
 * Report.builder("PPO on sentiment")
 *     .summary(Map.of("iterations", 200, "model", "gpt2"))
 *     .metricCharts(MetricsLog.read(run.resolve("metrics.jsonl")), List.of("env/reward_mean", "objective/kl"))
 *     .beforeAfter("Evaluation", before, after)
 *     .samples("Samples", samples)
 *     .write(run.resolve("report.html"));   // also writes report-data.json
 * }</pre>
 */
public final class Report {
  private Report() {}

  /** One generation shown in the report. */
  public record Sample(String prompt, String response, double score) {
    public Sample {
      Objects.requireNonNull(prompt, "prompt");
      Objects.requireNonNull(response, "response");
    }
  }

  public static Builder builder(String title) {
    return new Builder(title);
  }

  /** Collects sections in the order they are added. Not thread-safe. */
  public static final class Builder {
    private final String title;
    private final List<ReportSection> sections = new ArrayList<>();

    private Builder(String title) {
      this.title = Objects.requireNonNull(title, "title");
    }

    /** A key/value table; numbers are formatted, other values shown with toString. */
    public Builder summary(Map<String, ?> entries) {
      sections.add(new ReportSection.Summary(new LinkedHashMap<>(entries)));
      return this;
    }

    /** A line chart against iteration; each series is a list of {x, y} points. */
    public Builder chart(String title, Map<String, List<double[]>> series) {
      return chart(title, "iteration", series);
    }

    /** A line chart with its own x-axis label. Non-finite y values leave a gap in the line. */
    public Builder chart(String title, String xLabel, Map<String, List<double[]>> series) {
      sections.add(new ReportSection.Chart(title, xLabel, series));
      return this;
    }

    /** One chart per metric key against iteration, skipping keys no record has. */
    public Builder metricCharts(List<MetricsRecord> records, List<String> keys) {
      return metricCharts("", records, keys);
    }

    /** As {@link #metricCharts(List, List)}, each chart titled prefix + key (a run's name). */
    public Builder metricCharts(String prefix, List<MetricsRecord> records, List<String> keys) {
      for (String key : keys) {
        List<double[]> points = MetricsRecord.series(records, key);
        if (!points.isEmpty()) chart(prefix + key, Map.of(key, points));
      }
      return this;
    }

    /** A table; every row must have one cell per column. Cells: numbers, text, or null (empty). */
    public Builder table(String title, List<String> columns, List<? extends List<?>> rows) {
      List<List<Object>> copy = new ArrayList<>();
      for (List<?> row : rows) copy.add(new ArrayList<>(row));
      sections.add(new ReportSection.Table(title, columns, copy));
      return this;
    }

    /**
     * A before/after table: one row per metric (those of before, then those only in after),
     * with the change after - before; a metric missing on one side leaves its cells empty.
     */
    public Builder beforeAfter(String title, Map<String, Double> before, Map<String, Double> after) {
      Set<String> keys = new LinkedHashSet<>(before.keySet());
      keys.addAll(after.keySet());
      List<List<Object>> rows = new ArrayList<>();
      for (String k : keys) {
        Double b = before.get(k);
        Double a = after.get(k);
        rows.add(Arrays.asList(k, b, a, a == null || b == null ? null : a - b));
      }
      return table(title, List.of("metric", "before", "after", "change"), rows);
    }

    /** Sample generations (prompt, response, score); their text is HTML-escaped. */
    public Builder samples(String title, List<Sample> samples) {
      sections.add(new ReportSection.Samples(title, samples));
      return this;
    }

    /** The report as one HTML document. */
    public String html() {
      StringBuilder out = new StringBuilder(64 * 1024);
      out.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
          .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>")
          .append(Html.escape(title)).append("</title>\n<style>\n").append(CSS).append("</style>\n</head>\n<body>\n<h1>")
          .append(Html.escape(title)).append("</h1>\n");
      for (int i = 0; i < sections.size(); i++) sections.get(i).html(out, i);
      out.append("</body>\n</html>\n");
      return out.toString();
    }

    /** The report's content as JSON: title and sections with their data. */
    public String json() {
      ObjectNode root = MetricsJson.MAPPER.createObjectNode();
      root.put("title", title);
      ArrayNode a = root.putArray("sections");
      for (ReportSection s : sections) a.add(s.json());
      try {
        return MetricsJson.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
      } catch (IOException e) {
        throw new IllegalStateException("report '" + title + "': cannot encode its data", e);
      }
    }

    /**
     * Writes the HTML to {@code html} and the data to its sibling {@code <name>-data.json}
     * (report.html gives report-data.json). Each file is replaced atomically, so a reader never
     * sees half a report. Returns the path of the data file.
     */
    public Path write(Path html) throws IOException {
      Path data = dataPath(html);
      writeAtomically(html, html());
      writeAtomically(data, json());
      return data;
    }

    static Path dataPath(Path html) {
      String name = html.getFileName().toString();
      String stem = name.endsWith(".html") ? name.substring(0, name.length() - 5) : name;
      return html.resolveSibling(stem + "-data.json");
    }

    private static void writeAtomically(Path target, String content) throws IOException {
      Path dir = target.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      // A sibling, so the move stays on one file system; not createTempFile, whose 0600 mode would stick.
      Path tmp = dir.resolve("." + target.getFileName() + ".tmp");
      try {
        Files.writeString(tmp, content, StandardCharsets.UTF_8);
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
    }
  }

  private static final String CSS = """
      body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1500px;\
      padding:0 1em;color:#222}
      h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em}
      table{border-collapse:collapse;margin:.5em 0}
      th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
      th{background:#f4f4f4}
      td.num{text-align:right;font-variant-numeric:tabular-nums}
      table.kv th{font-weight:normal;color:#555}
      table.samples td{max-width:40em}
      pre{margin:0;white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,monospace}
      figure.chart{display:inline-block;margin:.5em;width:min(100%,720px)}
      figure.chart svg{width:100%;height:auto}
      """;
}
