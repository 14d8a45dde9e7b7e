package org.rlhf4j.chat;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * {@code scripts/bench --workload render}: microseconds per chat-template render, the engine's
 * way (a kept global context per thread) beside its slow twin's (Jinjava's renderForResult, a
 * fresh copy per render), on a ChatML template and a three-message conversation as SFT and
 * preference data render them. Run alone: timings only compare within one run.
 */
public final class RenderWorkload {
  private static final String CHATML = "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n'"
      + " + message['content'] + '<|im_end|>' + '\\n' }}{%- endfor %}{%- if add_generation_prompt %}"
      + "{{- '<|im_start|>assistant\\n' }}{%- endif %}";

  private RenderWorkload() {}

  /** Times renders renders of each way after as many warm-up ones; prints a table and returns the figures. */
  public static Map<String, Object> run(int renders, PrintWriter out) {
    String source = Jinja2Syntax.rewrite(CHATML, "chatml");
    Map<String, Object> variables = new LinkedHashMap<>();
    variables.put("messages", List.of(Map.of("role", "system", "content", "You are a helpful assistant."),
        Map.of("role", "user", "content", "the pasta at this place was"),
        Map.of("role", "assistant", "content", "delicious and the staff was friendly .")));
    variables.put("add_generation_prompt", false);
    double kept = microseconds(renders, () -> JinjaEngine.render(source, variables, "chatml"));
    double fresh = microseconds(renders, () -> JinjaEngine.renderWithAFreshContext(source, variables, "chatml"));
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("workload", "render");
    r.put("renders", renders);
    r.put("kept_context_us", kept);
    r.put("fresh_context_us", fresh);
    r.put("speedup", fresh / kept);
    out.printf("chat template render (ChatML, 3 messages), %d renders after %d warm-up, one thread%n", renders,
        renders);
    out.printf("kept context:  %8.1f us/render%nfresh context: %8.1f us/render (Jinjava's renderForResult)%n", kept,
        fresh);
    out.printf("speedup:       %8.2fx%n", fresh / kept);
    return r;
  }

  private static double microseconds(int renders, Supplier<String> render) {
    long chars = 0;
    for (int i = 0; i < renders; i++) chars += render.get().length();
    long t0 = System.nanoTime();
    for (int i = 0; i < renders; i++) chars += render.get().length();
    if (chars == 0) throw new IllegalStateException("the template rendered nothing");
    return (System.nanoTime() - t0) / 1e3 / renders;
  }
}
