package org.rlhf4j.metrics;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One part of a report, rendered both as HTML and as JSON data. Immutable. */
sealed interface ReportSection {
  /** Appends this section's HTML; index is unique per section in the page. */
  void html(StringBuilder out, int index);

  /** This section's data, for report-data.json. */
  ObjectNode json();

  /** A key/value table, e.g. the run's configuration and totals. */
  record Summary(Map<String, Object> entries) implements ReportSection {
    public Summary {
      entries = Collections.unmodifiableMap(new LinkedHashMap<>(entries));
    }

    @Override
    public void html(StringBuilder out, int index) {
      out.append("<section>\n<h2>Summary</h2>\n<table class=\"kv\">\n");
      entries.forEach((k, v) -> out.append("<tr><th>").append(Html.escape(k)).append("</th><td>")
          .append(Html.escape(Html.text(v))).append("</td></tr>\n"));
      out.append("</table>\n</section>\n");
    }

    @Override
    public ObjectNode json() {
      ObjectNode o = node("summary");
      ObjectNode e = o.putObject("entries");
      entries.forEach((k, v) -> e.set(k, value(v)));
      return o;
    }
  }

  /** A line chart: named series of (x, y) points. */
  record Chart(String title, String xLabel, Map<String, List<double[]>> series) implements ReportSection {
    public Chart {
      if (series.isEmpty()) throw new IllegalArgumentException("report chart '" + title + "': no series");
      LinkedHashMap<String, List<double[]>> copy = new LinkedHashMap<>();
      series.forEach((name, points) -> {
        List<double[]> ps = new ArrayList<>(points.size());
        for (double[] p : points) {
          if (p.length != 2) {
            throw new IllegalArgumentException("report chart '" + title + "', series '" + name
                + "': a point must be {x, y}, got " + p.length + " numbers");
          }
          ps.add(p.clone());
        }
        copy.put(name, List.copyOf(ps));
      });
      series = Collections.unmodifiableMap(copy);
    }

    @Override
    public void html(StringBuilder out, int index) {
      out.append("<figure class=\"chart\">\n")
          .append(SvgChart.render(title, xLabel, series, "c" + index + "_"))
          .append("\n</figure>\n");
    }

    @Override
    public ObjectNode json() {
      ObjectNode o = node("chart");
      o.put("title", title);
      o.put("x", xLabel);
      ObjectNode s = o.putObject("series");
      series.forEach((name, points) -> {
        ArrayNode a = s.putArray(name);
        for (double[] p : points) a.addArray().add(MetricsJson.number(p[0])).add(MetricsJson.number(p[1]));
      });
      return o;
    }
  }

  /** A table with a header row; cells are numbers, text or null (empty). */
  record Table(String title, List<String> columns, List<List<Object>> rows) implements ReportSection {
    public Table {
      columns = List.copyOf(columns);
      List<List<Object>> copy = new ArrayList<>();
      for (int i = 0; i < rows.size(); i++) {
        List<?> row = rows.get(i);
        if (row.size() != columns.size()) {
          throw new IllegalArgumentException("report table '" + title + "', row " + (i + 1) + ": " + row.size()
              + " cells for " + columns.size() + " columns");
        }
        copy.add(Collections.unmodifiableList(new ArrayList<>(row)));
      }
      rows = List.copyOf(copy);
    }

    @Override
    public void html(StringBuilder out, int index) {
      out.append("<section>\n<h2>").append(Html.escape(title)).append("</h2>\n<table>\n<tr>");
      for (String c : columns) out.append("<th>").append(Html.escape(c)).append("</th>");
      out.append("</tr>\n");
      for (List<Object> row : rows) {
        out.append("<tr>");
        for (Object cell : row) {
          out.append(cell instanceof Number ? "<td class=\"num\">" : "<td>")
              .append(Html.escape(Html.text(cell))).append("</td>");
        }
        out.append("</tr>\n");
      }
      out.append("</table>\n</section>\n");
    }

    @Override
    public ObjectNode json() {
      ObjectNode o = node("table");
      o.put("title", title);
      ArrayNode cols = o.putArray("columns");
      columns.forEach(cols::add);
      ArrayNode rs = o.putArray("rows");
      for (List<Object> row : rows) {
        ArrayNode r = rs.addArray();
        row.forEach(cell -> r.add(value(cell)));
      }
      return o;
    }
  }

  /** Sample generations with their scores; all text is escaped and shown verbatim. */
  record Samples(String title, List<Report.Sample> samples) implements ReportSection {
    public Samples {
      samples = List.copyOf(samples);
    }

    @Override
    public void html(StringBuilder out, int index) {
      out.append("<section>\n<h2>").append(Html.escape(title)).append("</h2>\n<table class=\"samples\">\n")
          .append("<tr><th>#</th><th>prompt</th><th>response</th><th>score</th></tr>\n");
      for (int i = 0; i < samples.size(); i++) {
        Report.Sample s = samples.get(i);
        out.append("<tr><td class=\"num\">").append(i + 1).append("</td><td><pre>").append(Html.escape(s.prompt()))
            .append("</pre></td><td><pre>").append(Html.escape(s.response())).append("</pre></td><td class=\"num\">")
            .append(Html.escape(Numbers.format(s.score()))).append("</td></tr>\n");
      }
      out.append("</table>\n</section>\n");
    }

    @Override
    public ObjectNode json() {
      ObjectNode o = node("samples");
      o.put("title", title);
      ArrayNode a = o.putArray("samples");
      for (Report.Sample s : samples) {
        a.addObject().put("prompt", s.prompt()).put("response", s.response()).set("score", MetricsJson.number(s.score()));
      }
      return o;
    }
  }

  private static ObjectNode node(String type) {
    return MetricsJson.MAPPER.createObjectNode().put("type", type);
  }

  /** A cell or summary value as JSON: numbers as numbers (non-finite as strings), the rest as text. */
  private static JsonNode value(Object v) {
    var f = MetricsJson.MAPPER.getNodeFactory();
    return switch (v) {
      case null -> f.nullNode();
      case Double d -> MetricsJson.number(d);
      case Float x -> MetricsJson.number(x);
      case Long l -> f.numberNode(l);
      case Integer i -> f.numberNode(i);
      case Boolean b -> f.booleanNode(b);
      default -> f.textNode(v.toString());
    };
  }
}
