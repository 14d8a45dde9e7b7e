package org.rlhf4j.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.util.Iterator;
import java.util.List;

/**
 * Maps a user's tree (with its presets' keys already applied, see {@link ConfigSource}) onto
 * config records: keys the user wrote are converted to the component's type and checked against
 * their {@link Range}, absent keys come from the defaults, unknown keys are rejected with a
 * suggestion. Errors from a record's constructor get the section's path in front.
 */
final class ConfigBinder {
  private final ConfigSource source;
  /** Every key path of the schema, for "did you mean" across sections. */
  private final List<String> allKeys;

  ConfigBinder(ConfigSource source, List<String> allKeys) {
    this.source = source;
    this.allKeys = allKeys;
  }

  /**
   * The record of type for the user's node (null or a mapping) with defaults for what is absent.
   *
   * @param prefix the section's path ("" for the root, "ppo" for the ppo section)
   */
  <R extends Record> R bind(Class<R> type, JsonNode user, R defaults, String prefix) {
    List<Component> components = Component.of(type);
    if (user != null) rejectUnknownKeys(user, components, prefix);
    Object[] args = new Object[components.size()];
    for (int i = 0; i < args.length; i++) {
      Component c = components.get(i);
      String key = path(prefix, c.key());
      JsonNode node = user == null ? null : user.get(c.key());
      if (node == null) {
        args[i] = c.get(defaults);
      } else if (c.isSection()) {
        args[i] = section(c, node, (Record) c.get(defaults), key);
      } else {
        args[i] = ConfigValues.fromNode(node, c.type(), c.nullable(), key, source.origin(key));
      }
      Bounds.check(key, c.range(), args[i]);
    }
    return construct(type, args, prefix);
  }

  private Record section(Component c, JsonNode node, Record defaults, String key) {
    if (node.isNull()) return defaults;
    if (!node.isObject()) {
      throw new ConfigException(key + " in " + source.origin(key) + " must be a section (a mapping of keys), got "
          + ConfigValues.show(node));
    }
    return bind(c.type().asSubclass(Record.class), node, defaults, key);
  }

  private void rejectUnknownKeys(JsonNode user, List<Component> components, String prefix) {
    List<String> known = components.stream().map(Component::key).toList();
    for (Iterator<String> it = user.fieldNames(); it.hasNext(); ) {
      String name = it.next();
      if (known.contains(name)) continue;
      String key = path(prefix, name);
      throw new ConfigException("unknown key '" + key + "' in " + source.origin(key) + hint(name, known, prefix));
    }
  }

  /** "; did you mean 'x'?" for the same key in another section or a near one here; else the valid keys. */
  private String hint(String name, List<String> known, String prefix) {
    for (String k : allKeys) {
      if (k.endsWith("." + name) || k.equals(name)) return "; did you mean '" + k + "'?";
    }
    String near = Keys.nearest(name, known);
    if (near != null) return "; did you mean '" + path(prefix, near) + "'?";
    String what = prefix.isEmpty() ? "sections" : "keys of " + prefix;
    return "; " + what + ": " + String.join(", ", known);
  }

  private static <R extends Record> R construct(Class<R> type, Object[] args, String prefix) {
    Class<?>[] types = new Class<?>[args.length];
    var rcs = type.getRecordComponents();
    for (int i = 0; i < rcs.length; i++) types[i] = rcs[i].getType();
    try {
      Constructor<R> ctor = type.getDeclaredConstructor(types);
      return ctor.newInstance(args);
    } catch (InvocationTargetException e) {
      if (e.getCause() instanceof IllegalArgumentException bad) {
        throw new ConfigException(prefix.isEmpty() ? bad.getMessage() : prefix + "." + bad.getMessage());
      }
      throw new IllegalStateException("constructing " + type.getSimpleName() + " failed", e.getCause());
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot construct " + type.getName(), e);
    }
  }

  static String path(String prefix, String key) {
    return prefix.isEmpty() ? key : prefix + "." + key;
  }
}
