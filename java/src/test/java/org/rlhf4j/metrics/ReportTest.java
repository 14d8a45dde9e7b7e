package org.rlhf4j.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportTest {
  @TempDir Path dir;

  private static List<double[]> line(double... ys) {
    List<double[]> points = new ArrayList<>();
    for (int i = 0; i < ys.length; i++) points.add(new double[] {i + 1, ys[i]});
    return points;
  }

  private static Report.Builder fullReport() {
    Map<String, List<double[]>> losses = new LinkedHashMap<>();
    losses.put("loss/policy", line(0.5, 0.4, Double.NaN, 0.2));
    losses.put("loss/value", line(1.5, 1.1, 0.9, 0.7));
    Map<String, Object> summary = new LinkedHashMap<>();
    summary.put("model", "gpt2 <tiny>");
    summary.put("iterations", 4);
    summary.put("final reward", 0.42);
    return Report.builder("PPO <run> & co")
        .summary(summary)
        .chart("rewards", Map.of("env/reward_mean", line(0.1, 0.2, 0.3, 0.42)))
        .chart("losses", losses)
        .beforeAfter("Evaluation", Map.of("score", 0.1), Map.of("score", 0.6, "length", 12.0))
        .samples("Samples", List.of(
            new Report.Sample("<script>alert('x')</script>", "a & b < c", 0.9),
            new Report.Sample("two\nlines", "</td></tr></table>", -1.5)));
  }

  private static int count(String s, String needle) {
    int n = 0;
    for (int i = s.indexOf(needle); i >= 0; i = s.indexOf(needle, i + 1)) n++;
    return n;
  }

  private static List<String> svgs(String html) {
    List<String> out = new ArrayList<>();
    Matcher m = Pattern.compile("<svg.*?</svg>", Pattern.DOTALL).matcher(html);
    while (m.find()) out.add(m.group());
    return out;
  }

  @Test
  void writesOneSvgPerChartWithItsSeriesNames() throws IOException {
    Path html = dir.resolve("report.html");
    fullReport().write(html);
    String page = Files.readString(html);
    List<String> svgs = svgs(page);
    assertEquals(2, svgs.size());
    assertTrue(svgs.get(0).contains("rewards"));
    assertTrue(svgs.get(1).contains("loss/policy") && svgs.get(1).contains("loss/value"));
    assertTrue(svgs.get(1).contains("<path") || svgs.get(1).contains("<polyline"), "lines are drawn");
  }

  @Test
  void isSelfContainedAndBalanced() {
    String page = fullReport().html();
    String lower = page.toLowerCase(Locale.ROOT);
    assertTrue(lower.startsWith("<!doctype html>"));
    for (String tag : List.of("html", "head", "body", "table", "tr", "svg", "section", "figure", "pre", "style")) {
      assertEquals(count(lower, "<" + tag + ">") + count(lower, "<" + tag + " "), count(lower, "</" + tag + ">"),
          "open and close <" + tag + ">");
    }
    assertFalse(lower.contains("<script"), "no script at all");
    assertFalse(lower.contains("<link"), "no external stylesheet");
    assertFalse(Pattern.compile("(src|href)\\s*=\\s*\"(https?:)?//").matcher(lower).find(), "no network fetch");
  }

  @Test
  void eachSvgIsWellFormedXmlAndIdsAreUniqueAcrossThePage() throws Exception {
    String page = fullReport().html();
    var factory = DocumentBuilderFactory.newInstance();
    factory.setNamespaceAware(true);
    for (String svg : svgs(page)) {
      factory.newDocumentBuilder().parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
    }
    Matcher m = Pattern.compile("\\sid=\"([^\"]+)\"").matcher(page);
    Set<String> ids = new HashSet<>();
    while (m.find()) assertTrue(ids.add(m.group(1)), "duplicate id " + m.group(1));
  }

  @Test
  void escapesUserText() {
    String page = fullReport().html();
    assertFalse(page.contains("<script>alert"));
    assertTrue(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assertTrue(page.contains("a &amp; b &lt; c"));
    assertTrue(page.contains("&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;"));
    assertTrue(page.contains("<title>PPO &lt;run&gt; &amp; co</title>"));
    assertTrue(page.contains("gpt2 &lt;tiny&gt;"));
  }

  @Test
  void chartTextWithMarkupStaysInsideTheSvg() throws Exception {
    String page = Report.builder("t").chart("a<b", Map.of("x<y & z", line(1, 2))).html();
    String svg = svgs(page).getFirst();
    DocumentBuilderFactory.newInstance().newDocumentBuilder()
        .parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
    assertFalse(svg.contains("x<y"));
  }

  @Test
  void beforeAfterTableHasARowPerMetricAndTheChange() {
    String page = Report.builder("t")
        .beforeAfter("Evaluation", Map.of("score", 0.1), Map.of("score", 0.6)).html();
    assertTrue(page.contains("<th>metric</th><th>before</th><th>after</th><th>change</th>"), page);
    assertTrue(page.contains("<td>score</td><td class=\"num\">0.1</td><td class=\"num\">0.6</td>"
        + "<td class=\"num\">0.5</td>"), page);
  }

  @Test
  void writesTheDataAsJsonBeside() throws IOException {
    Path data = fullReport().write(dir.resolve("report.html"));
    assertEquals(dir.resolve("report-data.json"), data);
    JsonNode root = new ObjectMapper().readTree(data.toFile());
    assertEquals("PPO <run> & co", root.get("title").asText());
    JsonNode losses = root.get("sections").get(2);
    assertEquals("chart", losses.get("type").asText());
    JsonNode policy = losses.get("series").get("loss/policy");
    assertEquals(4, policy.size());
    assertEquals("NaN", policy.get(2).get(1).asText());
    assertEquals(0.2, policy.get(3).get(1).asDouble());
    JsonNode samples = root.get("sections").get(4).get("samples");
    assertEquals("<script>alert('x')</script>", samples.get(0).get("prompt").asText());
  }

  @Test
  void metricChartsMakeOneChartPerLoggedKey() {
    List<MetricsRecord> records = List.of(new MetricsRecord(1, Map.of("objective/kl", 0.1, "env/reward_mean", 0.0)),
        new MetricsRecord(2, Map.of("objective/kl", 0.3, "env/reward_mean", 0.5)));
    String page = Report.builder("t")
        .metricCharts(records, List.of("env/reward_mean", "objective/kl", "never/logged")).html();
    List<String> svgs = svgs(page);
    assertEquals(2, svgs.size());
    assertTrue(svgs.get(0).contains("env/reward_mean"));
    assertTrue(svgs.get(1).contains("objective/kl"));
  }

  @Test
  void rejectsMalformedInputNamingIt() {
    var e = assertThrows(IllegalArgumentException.class,
        () -> Report.builder("t").table("T", List.of("a", "b"), List.of(List.of(1))));
    assertTrue(e.getMessage().contains("'T'") && e.getMessage().contains("row 1"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Report.builder("t").chart("empty", Map.of()));
    assertThrows(IllegalArgumentException.class,
        () -> Report.builder("t").chart("c", Map.of("s", List.of(new double[] {1}))));
  }

  @Test
  void numbersReadWell() {
    assertEquals("812", Numbers.format(812.0));
    assertEquals("0.42", Numbers.format(0.42));
    assertEquals("1.302", Numbers.format(1.30219));
    assertEquals("12345.7", Numbers.format(12345.678));
    assertEquals("1.500e-05", Numbers.format(1.5e-5));
    assertEquals("NaN", Numbers.format(Double.NaN));
  }
}
