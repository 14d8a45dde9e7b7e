package org.rlhf4j.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.util.Map;
import jinjava.javax.el.CompositeELResolver;

/**
 * HubSpot's Jinjava set up as transformers sets up Jinja2 for chat templates: trim_blocks,
 * lstrip_blocks, loop controls, {@code raise_exception}, {@code strftime_now}, Python's {@code
 * tojson}, plus Python str/dict methods and Jinja2's operator precedence, whitespace control
 * and dict iteration. Any error Jinjava reports, even one it would render past, fails the
 * render: a prompt is either Jinja2's or none. Thread-safe (Jinjava is).
 */
final class JinjaEngine {
  private static final Jinjava JINJAVA = create();

  private JinjaEngine() {}

  private static Jinjava create() {
    CompositeELResolver resolver = new CompositeELResolver();
    resolver.add(new PythonMethods());
    resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_WRITE);
    LegacyOverrides jinja2 = LegacyOverrides.newBuilder()
        .withEvaluateMapKeys(true)
        .withIterateOverMapKeys(true)
        .withUsePyishObjectMapper(true)
        .withUseNaturalOperatorPrecedence(true)
        .withParseWhitespaceControlStrictly(true)
        .withUseTrimmingForNotesAndExpressions(true)
        .withKeepNullableLoopValues(true)
        .build();
    JinjavaConfig config = JinjavaConfig.newBuilder()
        .withTrimBlocks(true)
        .withLstripBlocks(true)
        .withFailOnUnknownTokens(false)
        .withLegacyOverrides(jinja2)
        .withElResolver(resolver)
        .build();
    Jinjava jinjava = new Jinjava(config);
    var globals = jinjava.getGlobalContext();
    globals.registerFilter(new TemplateGlobals.ToJson());
    globals.registerFunction(new ELFunctionDefinition("", "raise_exception",
        TemplateGlobals.class, "raiseException", String.class));
    globals.registerFunction(new ELFunctionDefinition("", "strftime_now",
        TemplateGlobals.class, "strftimeNow", String.class));
    return jinjava;
  }

  /** Renders source (already through {@link Jinja2Syntax}) with the variables; origin names it in errors. */
  static String render(String source, Map<String, Object> variables, String origin) {
    RenderResult result = JINJAVA.renderForResult(source, variables);
    if (!result.getErrors().isEmpty()) {
      TemplateError e = result.getErrors().getFirst();
      Throwable cause = e.getException();
      while (cause != null && !(cause instanceof TemplateGlobals.Raised)
          && !(cause instanceof ChatTemplateException)) {
        cause = cause.getCause();
      }
      String what = switch (cause) {
        case TemplateGlobals.Raised r -> "raised an exception: " + r.getMessage();
        case ChatTemplateException c -> c.getMessage();
        case null -> "cannot be rendered as Jinja2 would: " + e.getMessage()
            + (e.getFieldName() == null ? "" : " (in " + e.getFieldName().strip() + ")");
        default -> throw new IllegalStateException();
      };
      throw new ChatTemplateException("chat template " + origin + ", line " + e.getLineno()
          + ": " + what);
    }
    return result.getOutput();
  }
}
