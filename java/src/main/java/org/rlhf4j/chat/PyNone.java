package org.rlhf4j.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.exptest.ExpTest;
import com.hubspot.jinjava.util.HasObjectTruthValue;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Python's None in the data a template reads (a JSON null, no tools). Jinjava has one null for
 * both None and undefined, where Jinja2 tells them apart ({@code x is none}, {@code x is
 * defined}, printing): so data nulls become this value, falsy, printed {@code None}, and a
 * Java null inside the engine is an undefined value.
 */
public final class PyNone implements HasObjectTruthValue {
  public static final PyNone NONE = new PyNone();

  private PyNone() {}

  @Override
  public boolean getObjectTruthValue() {
    return false;
  }

  @Override
  public String toString() {
    return "None";
  }

  /** value with every null (in maps and lists, deeply) replaced by {@link #NONE}. */
  static Object wrap(Object value) {
    return switch (value) {
      case null -> NONE;
      case Map<?, ?> m -> {
        Map<Object, Object> out = new LinkedHashMap<>();
        for (var e : m.entrySet()) out.put(e.getKey(), wrap(e.getValue()));
        yield out;
      }
      case List<?> l -> {
        List<Object> out = new ArrayList<>(l.size());
        for (Object item : l) out.add(wrap(item));
        yield out;
      }
      default -> value;
    };
  }

  /** Jinja2's {@code is none}: true of None only; an undefined value is not none. */
  static final class IsNone implements ExpTest {
    @Override
    public String getName() {
      return "none";
    }

    @Override
    public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
      return var == NONE;
    }
  }
}
