package org.rlhf4j.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.InterpretException;
import com.hubspot.jinjava.interpret.InvalidArgumentException;
import com.hubspot.jinjava.interpret.InvalidInputException;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.interpret.TemplateSyntaxException;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.tree.ExpressionNode;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.parse.ExpressionToken;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import jinjava.javax.el.CompositeELResolver;

/**
 * HubSpot's Jinjava set up as transformers sets up Jinja2 for chat templates: trim_blocks,
 * lstrip_blocks, loop controls, {@code raise_exception}, {@code strftime_now}, Python's {@code
 * tojson}, plus Python str/dict methods and Jinja2's operator precedence, whitespace control
 * and dict iteration. Any error Jinjava reports, even one it would render past, fails the
 * render: a prompt is either Jinja2's or none. Thread-safe (Jinjava is, and each thread keeps its own
 * global context).
 */
final class JinjaEngine {
  private static final Jinjava JINJAVA = create();
  // Jinjava's renderForResult makes a copy of its global context per render, registering every
  // default filter, test, function and tag anew: most of a chat template's render time. Each
  // thread keeps one copy instead and resets it after every render, as Jinjava resets its own.
  private static final ThreadLocal<Context> GLOBALS = ThreadLocal.withInitial(JINJAVA::getGlobalContextCopy);
  private static final Pattern PATH = Pattern.compile("[A-Za-z_]\\w*(\\.[A-Za-z_]\\w*|\\[\\d+])*");

  private JinjaEngine() {}

  private static Jinjava create() {
    CompositeELResolver resolver = new CompositeELResolver();
    resolver.add(new PythonMethods());
    resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_WRITE);
    LegacyOverrides jinja2 = LegacyOverrides.newBuilder()
        .withEvaluateMapKeys(true)
        .withIterateOverMapKeys(true)
        // Strings print verbatim (the pyish mapper escapes control characters); other values
        // are checked against Python's str() before printing.
        .withUsePyishObjectMapper(false)
        .withUseNaturalOperatorPrecedence(true)
        .withParseWhitespaceControlStrictly(true)
        .withUseTrimmingForNotesAndExpressions(true)
        .withKeepNullableLoopValues(true)
        .build();
    JinjavaConfig config = JinjavaConfig.newBuilder()
        .withTrimBlocks(true)
        // lstrip_blocks is Jinja2Syntax's: Jinjava's also strips before a tag mid-line.
        .withLstripBlocks(false)
        .withFailOnUnknownTokens(false)
        // A message holding "{{" is text, not template: Jinja2 never renders output again.
        .withNestedInterpretationEnabled(false)
        .withNodePreProcessor(JinjaEngine::refusePrintedPythonValue)
        .withLegacyOverrides(jinja2)
        .withElResolver(resolver)
        .build();
    Jinjava jinjava = new Jinjava(config);
    var globals = jinjava.getGlobalContext();
    globals.registerFilter(new TemplateGlobals.ToJson());
    globals.registerFilter(new TemplateGlobals.Trim());
    globals.registerExpTest(new PyNone.IsNone());
    globals.registerFilter(new TemplateGlobals.Length("length"));
    globals.registerFilter(new TemplateGlobals.Length("count"));
    globals.registerFunction(new ELFunctionDefinition("", "raise_exception",
        TemplateGlobals.class, "raiseException", String.class));
    globals.registerFunction(new ELFunctionDefinition("", "strftime_now",
        TemplateGlobals.class, "strftimeNow", String.class));
    // Jinja2's globals are variables too (templates test `strftime_now is defined`); Jinjava's
    // functions are not, so each is also a variable, which only `is defined` reads.
    globals.put("raise_exception", new TemplateGlobals.Function("raise_exception"));
    globals.put("strftime_now", new TemplateGlobals.Function("strftime_now"));
    return jinjava;
  }

  /**
   * Jinja2 prints a value as Python's str() does (None, True, 1e-05, {'a': None}), Jinjava its
   * own way, and no hook changes Jinjava's printing: a printed value that is not a string is
   * refused, before it is printed, unless Jinjava's text equals Python's. An undefined variable
   * prints nothing in both, so a null from a name or path whose last part is undefined passes.
   */
  private static void refusePrintedPythonValue(Node node, JinjavaInterpreter interpreter) {
    if (!(node instanceof ExpressionNode) || !(node.getMaster() instanceof ExpressionToken token)) return;
    String expr = token.getExpr().strip();
    int errors = interpreter.getErrors().size();
    Object value = interpreter.resolveELExpression(expr, node.getLineNumber());
    if (interpreter.getErrors().size() > errors) return; // the expression's own error is reported
    if (value instanceof CharSequence || (value == null && printsAsEmpty(expr, interpreter))) return;
    String python = value == null ? "None" : PyRepr.str(value);
    if (python == null || !python.equals(interpreter.getAsString(value))) {
      throw new ChatTemplateException("line " + node.getLineNumber() + ": {{ " + expr + " }} prints "
          + (value == null ? "none or an attribute of an undefined value" : "a " + PyRepr.typeName(value))
          + ", which Jinja2 writes as Python does (or raises on) and Jinjava does not");
    }
  }

  /**
   * Whether expr is a name or attribute path (a.b[0].c) whose last part alone is undefined,
   * which Jinja2 prints as nothing; an undefined earlier part is an error in Jinja2.
   */
  private static boolean printsAsEmpty(String expr, JinjavaInterpreter interpreter) {
    if (!PATH.matcher(expr).matches() || expr.equals("none") || expr.equals("None")) return false;
    String[] parts = expr.replace("[", ".[").split("\\.");
    if (!interpreter.getContext().containsKey(parts[0])) return parts.length == 1;
    Object current = interpreter.getContext().get(parts[0]);
    for (int i = 1; i < parts.length; i++) {
      boolean last = i == parts.length - 1;
      if (parts[i].startsWith("[")) {
        int index = Integer.parseInt(parts[i].substring(1, parts[i].length() - 1));
        if (!(current instanceof List<?> list) || index >= list.size()) return false;
        current = list.get(index);
      } else if (current == null) {
        return last;
      } else if (current instanceof Map<?, ?> map) {
        if (!map.containsKey(parts[i])) return last;
        current = map.get(parts[i]);
      } else {
        return false;
      }
    }
    return false;
  }

  /** Renders source (already through {@link Jinja2Syntax}) with the variables; origin names it in errors. */
  static String render(String source, Map<String, Object> variables, String origin) {
    Context globals = GLOBALS.get();
    JinjavaConfig config = JINJAVA.getGlobalConfig();
    JinjavaInterpreter interpreter = config.getInterpreterFactory().newInstance(JINJAVA,
        new Context(globals, variables, config.getDisabled()), config);
    String output = null;
    List<TemplateError> errors = new ArrayList<>();
    JinjavaInterpreter.pushCurrent(interpreter);
    try {
      output = interpreter.render(source);
    } catch (RuntimeException e) {
      errors.add(asError(e));
    } finally {
      errors.addAll(interpreter.getErrorsCopy());
      JinjavaInterpreter.popCurrent();
      globals.reset();
    }
    refuseOnError(errors, origin);
    return output;
  }

  /**
   * {@link #render}'s slow twin, which tests compare it with: Jinjava's own renderForResult, a
   * fresh copy of the global context per render.
   */
  static String renderWithAFreshContext(String source, Map<String, Object> variables, String origin) {
    RenderResult result = JINJAVA.renderForResult(source, variables);
    refuseOnError(result.getErrors(), origin);
    return result.getOutput();
  }

  private static void refuseOnError(List<TemplateError> errors, String origin) {
    if (!errors.isEmpty()) {
      TemplateError e = errors.getFirst();
      String what = "cannot be rendered as Jinja2 would: " + e.getMessage()
          + (e.getFieldName() == null ? "" : " (in " + e.getFieldName().strip() + ")");
      for (Throwable cause = e.getException(); cause != null; cause = cause.getCause()) {
        if (cause instanceof TemplateGlobals.Raised r) {
          what = "raised an exception: " + r.getMessage();
          break;
        }
        if (cause instanceof ChatTemplateException c) {
          what = c.getMessage();
          break;
        }
      }
      String line = e.getLineno() > 0 && !what.startsWith("line ") ? "line " + e.getLineno() + ": " : "";
      // One line: Jinjava's messages and a template's own raise_exception text may hold newlines.
      throw new ChatTemplateException(("chat template " + origin + ": " + line + what)
          .replaceAll("\\s*\\R\\s*", " "));
    }
  }

  /** An exception out of a render as Jinjava's renderForResult reports it. */
  private static TemplateError asError(RuntimeException e) {
    return switch (e) {
      case TemplateSyntaxException s -> TemplateError.fromException(s);
      case InterpretException i -> TemplateError.fromSyntaxError(i);
      case InvalidArgumentException a -> TemplateError.fromInvalidArgumentException(a);
      case InvalidInputException in -> TemplateError.fromInvalidInputException(in);
      default -> TemplateError.fromException(e);
    };
  }
}
