package org.rlhf4j.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The engine's render (one global context per thread, reset after each render) against its slow
 * twin, Jinjava's renderForResult (a fresh copy per render): the same text, or the same refusal,
 * for every template of {@link Jinja2SemanticsTest}, whatever rendered before it on the thread,
 * and on several threads at once.
 */
class JinjaEngineTest {
  private static final List<String> TEMPLATES = templates();

  private static List<String> templates() {
    List<String> out = new ArrayList<>();
    for (String t : Jinja2SemanticsTest.EQUAL) out.add(Jinja2Syntax.rewrite(t, "t.jinja"));
    for (int i = 0; i < Jinja2SemanticsTest.REFUSED.length; i += 2) {
      try {
        out.add(Jinja2Syntax.rewrite(Jinja2SemanticsTest.REFUSED[i], "t.jinja"));
      } catch (ChatTemplateException refusedBeforeTheEngine) {
        // the rewriter's own refusals never reach a render
      }
    }
    // One that sets variables, defines a macro and a namespace: state a kept context must not carry over.
    out.add("{% set leaked = 'x' %}{% macro m() %}M{% endmacro %}{% set ns = namespace(k=1) %}{{ m() }}{{ ns.k }}");
    out.add("{% if leaked is defined %}leaked{% endif %}{% if m is defined %}macro{% endif %}"
        + "{% if ns is defined %}ns{% endif %}");
    return out;
  }

  private static Map<String, Object> variables() {
    Map<String, Object> v = new LinkedHashMap<>();
    v.put("messages", Jinja2SemanticsTest.MESSAGES);
    v.put("tools", null);
    v.put("documents", null);
    v.put("add_generation_prompt", false);
    v.replaceAll((name, value) -> PyNone.wrap(value));
    return v;
  }

  private static String outcome(String source, boolean fresh) {
    try {
      return fresh ? JinjaEngine.renderWithAFreshContext(source, variables(), "t.jinja")
          : JinjaEngine.render(source, variables(), "t.jinja");
    } catch (ChatTemplateException e) {
      return "REFUSED: " + e.getMessage();
    }
  }

  private static List<String> renderAll(List<Integer> order, boolean fresh) {
    List<String> out = new ArrayList<>(Collections.nCopies(TEMPLATES.size(), null));
    for (int i : order) out.set(i, outcome(TEMPLATES.get(i), fresh));
    return out;
  }

  @Test
  void theKeptContextRendersAsAFreshOneInAnyOrderAndOnAnyThread() throws Exception {
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < TEMPLATES.size(); i++) order.add(i);
    List<String> expected = renderAll(order, true);
    assertEquals("", expected.getLast(), "nothing carried over from the template before");
    assertEquals(expected, renderAll(order, false));
    List<Integer> reversed = new ArrayList<>(order);
    Collections.reverse(reversed);
    assertEquals(expected, renderAll(reversed, false));

    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<List<String>>> runs = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        List<Integer> shuffled = new ArrayList<>(order);
        Collections.shuffle(shuffled, new Random(t));
        runs.add(pool.submit(() -> renderAll(shuffled, false)));
      }
      for (Future<List<String>> run : runs) assertEquals(expected, run.get(60, TimeUnit.SECONDS));
    } finally {
      pool.shutdownNow();
    }
  }
}
