package org.rlhf4j.metrics;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Rectangle;
import java.util.List;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.jfree.graphics2d.svg.SVGGraphics2D;
import org.jfree.graphics2d.svg.ViewBox;

/**
 * Renders a line chart to an inline SVG element with JFreeChart, headless. Non-finite y values
 * become gaps in their line.
 */
final class SvgChart {
  static final int WIDTH = 720;
  static final int HEIGHT = 360;

  static {
    // Charts are drawn off-screen; without this a JVM with DISPLAY set would try to open one.
    if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
  }

  private SvgChart() {}

  /**
   * The chart as an {@code <svg>} element whose ids all start with idPrefix (several charts
   * share one HTML page, and their clip-path ids must not collide).
   */
  static String render(String title, String xLabel, Map<String, List<double[]>> series, String idPrefix) {
    XYSeriesCollection data = new XYSeriesCollection();
    for (Map.Entry<String, List<double[]>> e : series.entrySet()) {
      XYSeries s = new XYSeries(e.getKey(), true, true);
      for (double[] p : e.getValue()) {
        if (!Double.isFinite(p[0])) continue;
        s.add(p[0], Double.isFinite(p[1]) ? (Number) p[1] : null);
      }
      data.addSeries(s);
    }
    JFreeChart chart = ChartFactory.createXYLineChart(title, xLabel, null, data, PlotOrientation.VERTICAL,
        series.size() > 1, false, false);
    style(chart);
    SVGGraphics2D g = new SVGGraphics2D(WIDTH, HEIGHT);
    g.setDefsKeyPrefix(idPrefix);
    chart.draw(g, new Rectangle(0, 0, WIDTH, HEIGHT));
    return g.getSVGElement(idPrefix + "svg", false, new ViewBox(0, 0, WIDTH, HEIGHT), null, null);
  }

  private static void style(JFreeChart chart) {
    chart.setBackgroundPaint(Color.WHITE);
    chart.setAntiAlias(true);
    XYPlot plot = chart.getXYPlot();
    plot.setBackgroundPaint(Color.WHITE);
    plot.setDomainGridlinePaint(new Color(0xdddddd));
    plot.setRangeGridlinePaint(new Color(0xdddddd));
    plot.setOutlineVisible(false);
    ((NumberAxis) plot.getRangeAxis()).setAutoRangeIncludesZero(false);
    ((NumberAxis) plot.getDomainAxis()).setStandardTickUnits(NumberAxis.createIntegerTickUnits());
    XYLineAndShapeRenderer renderer = (XYLineAndShapeRenderer) plot.getRenderer();
    for (int i = 0; i < plot.getDataset().getSeriesCount(); i++) {
      renderer.setSeriesStroke(i, new BasicStroke(1.8f));
    }
  }
}
