package org.rlhf4j.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import java.time.LocalDateTime;
import java.time.format.TextStyle;
import java.util.Locale;
import java.util.Map;

/**
 * What transformers adds to Jinja2 for chat templates: {@code raise_exception(message)},
 * {@code strftime_now(format)} and a {@code tojson} filter that is Python's json.dumps with
 * {@code ensure_ascii=False} (not Jinja2's HTML-safe one). Stateless.
 */
public final class TemplateGlobals {
  private TemplateGlobals() {}

  /** A function as a variable: what `name is defined` sees (printing it is refused, as a value Python would print otherwise). */
  record Function(String name) {}

  /** Thrown by raise_exception; the template's own message is the error. */
  static final class Raised extends RuntimeException {
    Raised(String message) {
      super(message);
    }
  }

  public static String raiseException(String message) {
    throw new Raised(message);
  }

  /** Python's datetime.now().strftime(format), for the directives chat templates use. */
  public static String strftimeNow(String format) {
    return strftime(LocalDateTime.now(), format);
  }

  static String strftime(LocalDateTime t, String format) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < format.length(); i++) {
      char c = format.charAt(i);
      if (c != '%' || i + 1 == format.length()) {
        out.append(c);
        continue;
      }
      char d = format.charAt(++i);
      out.append(switch (d) {
        case 'Y' -> String.valueOf(t.getYear());
        case 'y' -> String.format("%02d", t.getYear() % 100);
        case 'm' -> String.format("%02d", t.getMonthValue());
        case 'd' -> String.format("%02d", t.getDayOfMonth());
        case 'H' -> String.format("%02d", t.getHour());
        case 'I' -> String.format("%02d", (t.getHour() + 11) % 12 + 1);
        case 'M' -> String.format("%02d", t.getMinute());
        case 'S' -> String.format("%02d", t.getSecond());
        case 'p' -> t.getHour() < 12 ? "AM" : "PM";
        case 'j' -> String.format("%03d", t.getDayOfYear());
        case 'B' -> t.getMonth().getDisplayName(TextStyle.FULL, Locale.US);
        case 'b' -> t.getMonth().getDisplayName(TextStyle.SHORT, Locale.US);
        case 'A' -> t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.US);
        case 'a' -> t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.US);
        case '%' -> "%";
        default -> throw new ChatTemplateException("strftime_now: the directive %" + d
            + " is not supported by rlhf4j");
      });
    }
    return out.toString();
  }

  /** Jinja2's trim: Python's str.strip(chars), whose whitespace is Unicode's (Jinjava's is Java's). */
  static final class Trim implements Filter {
    @Override
    public String getName() {
      return "trim";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
      String chars = args.length > 0 ? args[0] : null;
      return PythonMethods.strip(var == null ? "None" : PyRepr.str(var), chars);
    }
  }

  /** Jinja2's length: a string's code points, as Python's len (Java counts UTF-16 units). */
  static final class Length implements Filter {
    private final String name;

    Length(String name) {
      this.name = name;
    }

    @Override
    public String getName() {
      return name;
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
      return switch (var) {
        case CharSequence s -> (long) s.toString().codePointCount(0, s.length());
        case java.util.Collection<?> c -> (long) c.size();
        case Map<?, ?> m -> (long) m.size();
        case null -> throw new ChatTemplateException("length: none has no length");
        default -> throw new ChatTemplateException("length: a " + PyRepr.typeName(var)
            + " has no length rlhf4j knows");
      };
    }
  }

  /** tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False). */
  static final class ToJson implements Filter {
    @Override
    public String getName() {
      return "tojson";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
      return filter(var, interpreter, (Object[]) args, Map.of());
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args,
        Map<String, Object> kwargs) {
      if (kwargs.containsKey("separators")) {
        throw new ChatTemplateException("tojson: separators= is not supported by rlhf4j");
      }
      Object indent = kwargs.getOrDefault("indent", args.length > 1 ? args[1] : null);
      Object ascii = kwargs.getOrDefault("ensure_ascii", args.length > 0 ? args[0] : false);
      Object sort = kwargs.getOrDefault("sort_keys", false);
      return PyJson.dumps(var, Boolean.TRUE.equals(ascii),
          indent == null ? null : ((Number) indent).intValue(), Boolean.TRUE.equals(sort));
    }
  }
}
