package org.rlhf4j.chat;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where Jinjava's parser reads Jinja2 syntax differently, the template is rewritten into what
 * Jinjava reads as Jinja2 means it, or refused: {@code xs[::-1]} becomes {@code xs|reverse};
 * a keyword argument's value is parenthesised ({@code namespace(i=n - 1)} is otherwise parsed as
 * {@code (i=n) - 1}); {@code x == none} becomes {@code x is none} (see {@link PyNone});
 * {@code not}'s operand is parenthesised (Jinja2's {@code not} binds looser than Jinjava's, see
 * {@link #notOperands}); any other slice with a step is refused. Jinja2's lstrip_blocks is done here too, as Jinja2 does
 * it. Only tags are touched; text, raw blocks, string literals and comments are kept as they
 * are. Stateless.
 */
final class Jinja2Syntax {
  private static final Pattern NONE_AFTER = Pattern.compile("\\s*(none|None)(?![\\w.\\[(])");
  private static final Pattern RAW = Pattern.compile("[-+]?\\s*raw\\s*[-+]?");
  private static final Pattern END_RAW = Pattern.compile("\\{%[-+]?\\s*endraw\\s*[-+]?%}");

  private Jinja2Syntax() {}

  static String rewrite(String template, String origin) {
    StringBuilder out = new StringBuilder(template.length() + 64);
    int i = 0;
    while (i < template.length()) {
      int open = nextTag(template, i);
      if (open < 0) {
        out.append(template, i, template.length());
        break;
      }
      char kind = template.charAt(open + 1);
      out.append(template, i, open);
      if (kind != '{' && !template.startsWith("+", open + 2)) lstripBlock(out);
      out.append(template, open, open + 2);
      String close = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
      int end = kind == '#' ? template.indexOf(close, open + 2) : closeOf(template, open + 2, close);
      if (end < 0) throw new ChatTemplateException("chat template " + origin + ": "
          + position(template, open) + ": unclosed '{" + kind + "'");
      String body = template.substring(open + 2, end);
      // Jinjava parses macro signatures itself; their defaults are plain values.
      boolean macro = kind == '%' && body.replaceFirst("^[-+]?\\s*", "").startsWith("macro ");
      out.append(kind == '#' || macro ? body : expression(body, template, open, origin));
      out.append(close);
      i = end + 2;
      if (kind == '%' && RAW.matcher(body.strip()).matches()) {
        Matcher endRaw = END_RAW.matcher(template);
        if (!endRaw.find(i)) {
          throw new ChatTemplateException("chat template " + origin + ": "
              + position(template, open) + ": {% raw %} without {% endraw %}");
        }
        out.append(template, i, endRaw.start());
        i = endRaw.start();
      }
    }
    return out.toString();
  }

  /**
   * Jinja2's lstrip_blocks: spaces and tabs from the start of a line to a block or comment tag
   * are removed (not those before a tag that follows text on its line).
   */
  private static void lstripBlock(StringBuilder out) {
    int k = out.length();
    while (k > 0 && (out.charAt(k - 1) == ' ' || out.charAt(k - 1) == '\t')) k--;
    if (k == 0 || out.charAt(k - 1) == '\n') out.setLength(k);
  }

  private static int nextTag(String t, int from) {
    for (int k = t.indexOf('{', from); k >= 0 && k + 1 < t.length(); k = t.indexOf('{', k + 1)) {
      char c = t.charAt(k + 1);
      if (c == '{' || c == '%' || c == '#') return k;
    }
    return -1;
  }

  /** The end of a tag, skipping string literals that may hold the closing characters. */
  private static int closeOf(String t, int from, String close) {
    char quote = 0;
    for (int k = from; k + 1 < t.length(); k++) {
      char c = t.charAt(k);
      if (quote != 0) {
        if (c == '\\') k++;
        else if (c == quote) quote = 0;
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (t.startsWith(close, k)) {
        return k;
      }
    }
    return -1;
  }

  private static String expression(String body, String template, int tagStart, String origin) {
    String e = notOperands(body);
    StringBuilder out = new StringBuilder(e.length() + 8);
    Deque<Boolean> wrapped = new ArrayDeque<>(); // per open bracket: a keyword value is open
    Deque<Character> brackets = new ArrayDeque<>();
    for (int k = 0; k < e.length(); k++) {
      char c = e.charAt(k);
      if (c == '\'' || c == '"') {
        int end = literalEnd(e, k);
        out.append(e, k, end);
        k = end - 1;
      } else if ((e.startsWith("==", k) || e.startsWith("!=", k)) && NONE_AFTER.matcher(e).region(k + 2, e.length()).lookingAt()) {
        // Jinjava's null is also undefined, so None is PyNone: compare it as Jinja2's test does.
        var m = NONE_AFTER.matcher(e).region(k + 2, e.length());
        m.lookingAt();
        out.append(c == '=' ? " is none" : " is not none");
        k = m.end() - 1;
      } else if (c == '[' && e.startsWith("::", k + 1)) {
        String slice = e.substring(k, Math.max(k, e.indexOf(']', k)) + 1).replace(" ", "");
        if (!slice.equals("[::-1]")) {
          throw new ChatTemplateException("chat template " + origin + ": "
              + position(template, tagStart) + ": the slice " + slice
              + " is not supported by rlhf4j's Jinja2 emulation");
        }
        out.append("|reverse");
        k = e.indexOf(']', k);
      } else if (c == '(' || c == '[' || c == '{') {
        brackets.push(c);
        wrapped.push(false);
        out.append(c);
      } else if ((c == ')' || c == ']' || c == '}') && !brackets.isEmpty()) {
        brackets.pop();
        if (wrapped.pop()) out.append(')');
        out.append(c);
      } else if (c == ',' && !wrapped.isEmpty() && wrapped.peek()) {
        wrapped.pop();
        wrapped.push(false);
        out.append("),");
      } else if (c == '=' && isKeyword(e, k) && !brackets.isEmpty() && brackets.peek() == '('
          && !wrapped.peek()) {
        wrapped.pop();
        wrapped.push(true);
        out.append("=(");
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  /**
   * Jinja2's unary {@code not} binds looser than comparisons, tests and filters ({@code not
   * xs|length == 1} is {@code not ((xs|length) == 1)}, {@code not x is defined} is {@code not (x
   * is defined)}); Jinjava's binds tighter, so its operand is parenthesised, up to the next
   * {@code and}, {@code or}, {@code if}, {@code else}, comma or closing bracket of its level,
   * or the end of the tag (before its whitespace control). {@code not in} and {@code is not}
   * are operators of their own and stay.
   */
  static String notOperands(String e) {
    int end = e.length();
    while (end > 0 && Character.isWhitespace(e.charAt(end - 1))) end--;
    if (end > 0 && (e.charAt(end - 1) == '-' || e.charAt(end - 1) == '+')) end--;
    StringBuilder out = new StringBuilder(e.length() + 8);
    Deque<Integer> open = new ArrayDeque<>(); // the bracket depth of each parenthesised operand
    int depth = 0;
    String previous = "";
    for (int k = 0; k < end; k++) {
      char c = e.charAt(k);
      if (c == '\'' || c == '"') {
        int to = Math.min(literalEnd(e, k), end);
        out.append(e, k, to);
        k = to - 1;
        previous = "";
      } else if (Character.isLetter(c) || c == '_') {
        int to = k;
        while (to < end && (Character.isLetterOrDigit(e.charAt(to)) || e.charAt(to) == '_')) to++;
        String word = e.substring(k, to);
        boolean attribute = k > 0 && e.charAt(k - 1) == '.';
        if (!attribute && (word.equals("and") || word.equals("or") || word.equals("if") || word.equals("else"))) {
          close(out, open, depth);
        }
        out.append(word);
        if (!attribute && word.equals("not") && !previous.equals("is") && !followedByIn(e, to, end)) {
          out.append(" (");
          open.push(depth);
        }
        previous = attribute ? "" : word;
        k = to - 1;
      } else {
        if (c == '(' || c == '[' || c == '{') depth++;
        if (c == ')' || c == ']' || c == '}' || c == ',') close(out, open, depth);
        if (c == ')' || c == ']' || c == '}') depth--;
        out.append(c);
        if (!Character.isWhitespace(c)) previous = "";
      }
    }
    close(out, open, Integer.MIN_VALUE);
    return out.append(e, end, e.length()).toString();
  }

  /** Closes the parenthesised operands opened at this depth (every one, at MIN_VALUE). */
  private static void close(StringBuilder out, Deque<Integer> open, int depth) {
    while (!open.isEmpty() && (depth == Integer.MIN_VALUE || open.peek() == depth)) {
      open.pop();
      out.append(')');
    }
  }

  private static boolean followedByIn(String e, int from, int end) {
    int k = from;
    while (k < end && Character.isWhitespace(e.charAt(k))) k++;
    return e.startsWith("in", k) && (k + 2 >= end || !(Character.isLetterOrDigit(e.charAt(k + 2))
        || e.charAt(k + 2) == '_'));
  }

  /** A lone '=' after an identifier: a keyword argument, not ==, !=, <= or >=. */
  private static boolean isKeyword(String e, int k) {
    if (k + 1 < e.length() && e.charAt(k + 1) == '=') return false;
    int p = k - 1;
    while (p >= 0 && e.charAt(p) == ' ') p--;
    return p >= 0 && (Character.isLetterOrDigit(e.charAt(p)) || e.charAt(p) == '_');
  }

  private static int literalEnd(String e, int start) {
    char quote = e.charAt(start);
    for (int k = start + 1; k < e.length(); k++) {
      if (e.charAt(k) == '\\') k++;
      else if (e.charAt(k) == quote) return k + 1;
    }
    return e.length();
  }

  private static String position(String template, int offset) {
    int line = 1;
    for (int k = 0; k < offset; k++) if (template.charAt(k) == '\n') line++;
    return "line " + line;
  }
}
