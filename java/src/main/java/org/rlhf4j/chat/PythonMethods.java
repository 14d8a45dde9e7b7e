package org.rlhf4j.chat;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * Python's str and dict methods for templates ({@code content.startswith('<tool_response>')},
 * {@code text.split('</think>')}, {@code args.items()}), which Jinja2 calls on Python objects
 * but Jinjava would resolve to Java's (whose {@code split} takes a regex) or not at all. Any
 * other method on a string, dict or list is refused, naming it, rather than guessed.
 */
final class PythonMethods extends ELResolver {
  @Override
  public Object invoke(ELContext context, Object base, Object method, Class<?>[] types,
      Object[] params) {
    String name = String.valueOf(method);
    Object[] args = params == null ? new Object[0] : params;
    Object result;
    if (base instanceof CharSequence s) {
      result = stringMethod(s.toString(), name, args);
    } else if (base instanceof Map<?, ?> m) {
      result = mapMethod(m, name, args);
    } else if (base instanceof List<?>) {
      throw unsupported("list", name);
    } else {
      return null;
    }
    context.setPropertyResolved(true);
    return result;
  }

  private static Object stringMethod(String s, String name, Object[] a) {
    return switch (name) {
      case "startswith" -> s.startsWith(str(a, 0, name));
      case "endswith" -> s.endsWith(str(a, 0, name));
      case "strip" -> strip(s, chars(a));
      case "lstrip" -> lstrip(s, chars(a));
      case "rstrip" -> rstrip(s, chars(a));
      case "split" -> a.length == 0 || a[0] == null ? splitWhitespace(s) : split(s, str(a, 0, name));
      case "upper" -> s.toUpperCase(java.util.Locale.ROOT);
      case "lower" -> s.toLowerCase(java.util.Locale.ROOT);
      case "replace" -> s.replace(str(a, 0, name), str(a, 1, name));
      default -> throw unsupported("string", name);
    };
  }

  private static Object mapMethod(Map<?, ?> m, String name, Object[] a) {
    return switch (name) {
      case "items" -> {
        List<List<Object>> items = new ArrayList<>();
        for (var e : m.entrySet()) items.add(Arrays.asList(e.getKey(), e.getValue()));
        yield items;
      }
      case "keys" -> new ArrayList<>(m.keySet());
      case "values" -> new ArrayList<>(m.values());
      case "get" -> m.containsKey(a[0]) ? m.get(a[0]) : (a.length > 1 ? a[1] : PyNone.NONE);
      default -> throw unsupported("dict", name);
    };
  }

  private static ChatTemplateException unsupported(String type, String name) {
    return new ChatTemplateException("the " + type + " method ." + name
        + "() is not supported by rlhf4j's Jinja2 emulation");
  }

  private static String str(Object[] a, int i, String name) {
    if (a.length <= i || !(a[i] instanceof CharSequence s)) {
      throw new ChatTemplateException("." + name + "() expects a string argument " + (i + 1));
    }
    return s.toString();
  }

  /** Python's default strip set is whitespace; an argument gives the characters to strip. */
  private static String chars(Object[] a) {
    return a.length == 0 || a[0] == null ? null : a[0].toString();
  }

  private static boolean strips(char c, String chars) {
    return chars == null ? isSpace(c) : chars.indexOf(c) >= 0;
  }

  /** Python's str.isspace() for one char: Java's whitespace and space separators, and NEL. */
  static boolean isSpace(char c) {
    return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
  }

  static String strip(String s, String chars) {
    return rstrip(lstrip(s, chars), chars);
  }

  static String lstrip(String s, String chars) {
    int i = 0;
    while (i < s.length() && strips(s.charAt(i), chars)) i++;
    return s.substring(i);
  }

  static String rstrip(String s, String chars) {
    int j = s.length();
    while (j > 0 && strips(s.charAt(j - 1), chars)) j--;
    return s.substring(0, j);
  }

  static List<String> split(String s, String sep) {
    if (sep.isEmpty()) throw new ChatTemplateException(".split(): empty separator");
    List<String> out = new ArrayList<>();
    int from = 0;
    for (int k; (k = s.indexOf(sep, from)) >= 0; from = k + sep.length()) out.add(s.substring(from, k));
    out.add(s.substring(from));
    return out;
  }

  private static List<String> splitWhitespace(String s) {
    List<String> out = new ArrayList<>();
    int start = -1;
    for (int i = 0; i <= s.length(); i++) {
      boolean space = i == s.length() || isSpace(s.charAt(i));
      if (space && start >= 0) {
        out.add(s.substring(start, i));
        start = -1;
      } else if (!space && start < 0) {
        start = i;
      }
    }
    return out;
  }

  @Override
  public Object getValue(ELContext context, Object base, Object property) {
    return null;
  }

  @Override
  public Class<?> getType(ELContext context, Object base, Object property) {
    return null;
  }

  @Override
  public void setValue(ELContext context, Object base, Object property, Object value) {}

  @Override
  public boolean isReadOnly(ELContext context, Object base, Object property) {
    return true;
  }

  @Override
  public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
    return null;
  }

  @Override
  public Class<?> getCommonPropertyType(ELContext context, Object base) {
    return null;
  }
}
