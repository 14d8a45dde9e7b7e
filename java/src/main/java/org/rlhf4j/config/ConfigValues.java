package org.rlhf4j.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The scalar types of config keys and their conversion from and to YAML/JSON nodes: booleans,
 * int, long, double (primitive or boxed), String, Path, Duration, enums (by lower-case
 * name), the lists {@link RewardTerms}, {@link AgentTools}, {@link Names} and {@link Numbers}. Conversions are
 * strict: a quoted "8" is not an integer, 8 is not a string.
 */
final class ConfigValues {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private ConfigValues() {}

  static boolean supports(Class<?> t) {
    Class<?> b = box(t);
    return b == Boolean.class || b == Integer.class || b == Long.class || b == Double.class || b == String.class
        || b == Path.class || b == Duration.class || b.isEnum() || b == RewardTerms.class || b == AgentTools.class
        || b == Names.class || b == Numbers.class;
  }

  /**
   * The value of node for a key of type t.
   *
   * @param key the key's full path, for messages
   * @param origin where the node came from ("config.yaml" or "--set"), for messages
   * @throws ConfigException when the node does not hold a value of that type
   */
  static Object fromNode(JsonNode node, Class<?> t, boolean nullable, String key, String origin) {
    if (node == null || node.isNull() || node.isMissingNode()) {
      if (nullable) return null;
      throw typeError(node, t, key, origin);
    }
    Class<?> b = box(t);
    Object v = null;
    if (b == Boolean.class) {
      if (node.isBoolean()) v = node.booleanValue();
    } else if (b == Integer.class) {
      Long l = integral(node);
      if (l != null && l == l.intValue()) v = l.intValue();
    } else if (b == Long.class) {
      v = integral(node);
    } else if (b == Double.class) {
      if (node.isNumber()) v = node.doubleValue();
    } else if (b == String.class) {
      if (node.isTextual()) v = node.textValue();
    } else if (b == Path.class) {
      if (node.isTextual() && !node.textValue().isBlank()) v = path(node.textValue());
    } else if (b == Duration.class) {
      if (node.isTextual()) v = duration(node.textValue());
    } else if (b.isEnum() && node.isTextual()) {
      v = constant(b, node.textValue());
    } else if (b == RewardTerms.class) {
      v = RewardTerms.fromNode(node, key, origin);
    } else if (b == AgentTools.class) {
      v = AgentTools.fromNode(node, key, origin);
    } else if (b == Names.class) {
      v = Names.fromNode(node, key, origin);
    } else if (b == Numbers.class) {
      v = Numbers.fromNode(node, key, origin);
    }
    if (v == null) throw typeError(node, t, key, origin);
    return v;
  }

  /** The node that {@link #fromNode} reads back as value. */
  static JsonNode toNode(Object value) {
    return switch (value) {
      case null -> NODES.nullNode();
      case Boolean b -> NODES.booleanNode(b);
      case Integer i -> NODES.numberNode(i);
      case Long l -> NODES.numberNode(l);
      case Double d -> NODES.numberNode(d);
      case String s -> NODES.textNode(s);
      case Path p -> NODES.textNode(p.toString());
      case Duration d -> NODES.textNode(Durations.format(d));
      case Enum<?> e -> NODES.textNode(e.name().toLowerCase(Locale.ROOT));
      case RewardTerms r -> r.toNode();
      case AgentTools a -> a.toNode();
      case Names n -> n.toNode();
      case Numbers n -> n.toNode();
      default -> throw new IllegalStateException("not a config value: " + value.getClass().getName());
    };
  }

  /** Short type name for --help: bool, int, float, string, path, duration, or a|b|c. */
  static String shortName(Class<?> t) {
    Class<?> b = box(t);
    if (b == Boolean.class) return "bool";
    if (b == Integer.class || b == Long.class) return "int";
    if (b == Double.class) return "float";
    if (b == Path.class) return "path";
    if (b == Duration.class) return "duration";
    if (b.isEnum()) return constants(b, "|");
    if (b == RewardTerms.class || b == AgentTools.class || b == Numbers.class) return "list";
    if (b == Names.class) return "name|list";
    return "string";
  }

  /** The node as a message shows it. */
  static String show(JsonNode node) {
    if (node == null || node.isNull() || node.isMissingNode()) return "null";
    if (node.isTextual()) return "'" + node.textValue() + "'";
    if (node.isObject()) return "a mapping";
    if (node.isArray()) return "a list " + node;
    return node.toString();
  }

  private static ConfigException typeError(JsonNode node, Class<?> t, String key, String origin) {
    String hint = box(t) == String.class && node != null && node.isValueNode() && !node.isNull()
        ? " (quote it to mean text)" : "";
    return new ConfigException(key + " in " + origin + " must be " + describe(t) + ", got " + show(node) + hint);
  }

  private static String describe(Class<?> t) {
    Class<?> b = box(t);
    if (b == Boolean.class) return "true or false";
    if (b == Integer.class) return "an integer (at most " + Integer.MAX_VALUE + ")";
    if (b == Long.class) return "an integer";
    if (b == Double.class) return "a number";
    if (b == Path.class) return "a path";
    if (b == Duration.class) return "a duration like 90s, 20m, 2h or PT1H30M";
    if (b.isEnum()) return "one of " + constants(b, ", ");
    if (b == RewardTerms.class) return "a list of {name|class, weight}";
    if (b == AgentTools.class) return "a list of {class: ...}";
    if (b == Names.class) return "a name or a list of names";
    if (b == Numbers.class) return "a list of numbers";
    return "a string";
  }

  /** 8 and 8.0 and 1e4 are integers; 8.5 and integers past 2^53 written as floats are not. */
  private static Long integral(JsonNode node) {
    if (node.isIntegralNumber()) return node.canConvertToLong() ? node.longValue() : null;
    if (node.isFloatingPointNumber()) {
      double d = node.doubleValue();
      if (d == Math.rint(d) && Math.abs(d) <= 0x1p53) return (long) d;
    }
    return null;
  }

  private static Path path(String text) {
    try {
      return Path.of(text);
    } catch (InvalidPathException e) {
      return null;
    }
  }

  private static Duration duration(String text) {
    try {
      return Durations.parse(text);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private static Object constant(Class<?> enumType, String text) {
    for (Object c : enumType.getEnumConstants()) {
      if (((Enum<?>) c).name().equalsIgnoreCase(text)) return c;
    }
    return null;
  }

  private static String constants(Class<?> enumType, String separator) {
    return Arrays.stream(enumType.getEnumConstants())
        .map(c -> ((Enum<?>) c).name().toLowerCase(Locale.ROOT))
        .collect(Collectors.joining(separator));
  }

  private static Class<?> box(Class<?> t) {
    if (t == boolean.class) return Boolean.class;
    if (t == int.class) return Integer.class;
    if (t == long.class) return Long.class;
    if (t == double.class) return Double.class;
    return t;
  }
}
