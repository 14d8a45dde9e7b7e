package org.rlhf4j.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Loads one command's configuration record from a YAML or JSON file and {@code --set}
 * overrides, checks it, writes it back as YAML, and lists its keys for --help.
 *
 * <p>Mapping: each component of the record is a key, named in snake_case (klCoef is kl_coef);
 * a component that is itself a record is a section (a nested mapping); enums are written by
 * their lower-case names; components marked {@link Nullable} accept null ("off"). Every key the
 * user leaves out takes its default; in a section with a {@link ConfigPreset} component the
 * chosen preset's keys are applied as --set would, beneath the file and every --set.
 *
 * <p>Immutable and thread-safe.
 *
 * @param <T> the command's configuration record
 */
public final class ConfigLoader<T extends Record & CommandConfig> {
  private final Class<T> type;
  private final T defaults;
  private final List<ConfigKey> keys;

  /**
   * @param type the command's configuration record
   * @param defaults its value when the user sets nothing (need not pass validate())
   * @throws IllegalStateException when a record of the schema is not a valid config record: a
   *     component without {@link Doc}, of a type the loader cannot read, or primitive and {@link Nullable}
   */
  public ConfigLoader(Class<T> type, T defaults) {
    this.type = Objects.requireNonNull(type);
    this.defaults = Objects.requireNonNull(defaults);
    List<ConfigKey> all = new ArrayList<>();
    collectKeys(defaults, "", all);
    this.keys = List.copyOf(all);
    checkPresetKeys(type);
  }

  /** The configuration with every key at its default (not validated). */
  public T defaults() {
    return defaults;
  }

  /**
   * The defaults with overrides ("key.path=value", a preset's keys included) applied, not
   * validated: the options of a preset for code that loads no command's file (benchmarks, tests).
   *
   * @throws ConfigException on an unknown key or a value out of its key's range
   */
  public T defaults(List<String> overrides) {
    ConfigSource source = ConfigSource.read(null, overrides);
    applyPresets(source, type, defaults, "");
    List<String> paths = keys.stream().map(ConfigKey::path).toList();
    return new ConfigBinder(source, paths).bind(type, source.tree(), defaults, "");
  }

  /**
   * Reads file (YAML, or JSON when its name ends in .json; null for none), applies the
   * overrides ("key.path=value", value read as YAML, later ones winning), fills the defaults,
   * and validates.
   *
   * @throws ConfigException on any error the user made, with a one-line message naming the key
   *     and the file (or --set); YAML syntax errors as file:line
   * @throws UncheckedIOException when an existing file cannot be read
   */
  public T load(Path file, List<String> overrides) {
    ConfigSource source = ConfigSource.read(file, overrides);
    applyPresets(source, type, defaults, "");
    List<String> paths = keys.stream().map(ConfigKey::path).toList();
    T config = new ConfigBinder(source, paths).bind(type, source.tree(), defaults, "");
    config.validate();
    return config;
  }

  /**
   * {@link #load(Path, List)} from a tree already parsed (e.g. the config of a job submitted to
   * the service); name stands for the file in messages.
   *
   * @throws ConfigException as {@link #load(Path, List)}, and when tree is not a mapping
   */
  public T load(JsonNode tree, String name, List<String> overrides) {
    ConfigSource source = ConfigSource.of(tree, name, overrides);
    applyPresets(source, type, defaults, "");
    List<String> paths = keys.stream().map(ConfigKey::path).toList();
    T config = new ConfigBinder(source, paths).bind(type, source.tree(), defaults, "");
    config.validate();
    return config;
  }

  /**
   * Applies, in each section with a preset key, the settings of the preset the user chose (or of
   * the default one) beneath what the user wrote. A section the user wrote as something other
   * than a mapping is left for the binder to report.
   */
  private static void applyPresets(ConfigSource source, Class<?> type, Record defaults, String prefix) {
    JsonNode user = prefix.isEmpty() ? source.tree() : at(source.tree(), prefix);
    if (user != null && !user.isObject() && !user.isNull()) return;
    for (Component c : Component.of(type)) {
      String key = ConfigBinder.path(prefix, c.key());
      if (c.isSection()) {
        applyPresets(source, c.type(), (Record) c.get(defaults), key);
      } else if (c.isPreset()) {
        JsonNode chosen = user == null ? null : user.get(c.key());
        Object preset = chosen == null || chosen.isNull() ? c.get(defaults)
            : ConfigValues.fromNode(chosen, c.type(), false, key, source.origin(key));
        List<String> settings = ((ConfigPreset) preset).overrides().entrySet().stream()
            .map(e -> ConfigBinder.path(prefix, e.getKey()) + "=" + e.getValue()).toList();
        source.applyPreset(settings, key + " " + text(ConfigValues.toNode(preset)));
      }
    }
  }

  private static JsonNode at(JsonNode tree, String path) {
    JsonNode node = tree;
    for (String part : path.split("\\.")) node = node == null ? null : node.get(part);
    return node;
  }

  /** Every key of type Path that config sets (not null), by key path, in key order. */
  public Map<String, Path> paths(T config) {
    Map<String, Path> out = new LinkedHashMap<>();
    collectPaths(config, "", out);
    return out;
  }

  private static void collectPaths(Record r, String prefix, Map<String, Path> out) {
    for (Component c : Component.of(r.getClass())) {
      String path = ConfigBinder.path(prefix, c.key());
      Object value = c.get(r);
      if (c.isSection()) {
        collectPaths((Record) value, path, out);
      } else if (value instanceof Path p) {
        out.put(path, p);
      }
    }
  }

  /** {@link #load(Path, List)} without a file. */
  public T load(List<String> overrides) {
    return load(null, overrides);
  }

  /** Every key of config with its value, as YAML that {@link #load} reads back to an equal record. */
  public String toYaml(T config) {
    try {
      return ConfigSource.YAML.writeValueAsString(tree(config));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write config as YAML", e);
    }
  }

  /** Writes {@link #toYaml} to file (e.g. the run directory's config.yaml), replacing it. */
  public void write(T config, Path file) throws IOException {
    Files.writeString(file, toYaml(config));
  }

  /** Every key of config ("section.key") in order with its value as text: the effective config. */
  public Map<String, String> values(T config) {
    Map<String, String> out = new LinkedHashMap<>();
    flatten(tree(config), "", out);
    return out;
  }

  private static void flatten(JsonNode node, String prefix, Map<String, String> out) {
    if (node.isObject()) {
      node.properties().forEach(e -> flatten(e.getValue(), prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey(), out));
    } else {
      out.put(prefix, node.isValueNode() || node.isNull() ? text(node) : node.toString());
    }
  }

  /** Every key in order, with its type, default and description. */
  public List<ConfigKey> keys() {
    return keys;
  }

  /**
   * The keys as text for --help: one line per section with its description, one indented line
   * per key (path, type, default, description), and what each other preset changes.
   */
  public String help() {
    int pathWidth = 0;
    int typeWidth = 0;
    int defaultWidth = 0;
    for (ConfigKey k : keys) {
      pathWidth = Math.max(pathWidth, k.path().length());
      typeWidth = Math.max(typeWidth, k.type().length());
      defaultWidth = Math.max(defaultWidth, k.defaultValue().length());
    }
    String row = "  %-" + pathWidth + "s  %-" + typeWidth + "s  %-" + defaultWidth + "s  %s%n";
    StringBuilder b = new StringBuilder();
    for (Component c : Component.of(type)) {
      String prefix = c.key();
      if (c.isSection()) b.append(prefix).append(": ").append(c.doc()).append(System.lineSeparator());
      for (ConfigKey k : keys) {
        if (k.path().equals(prefix) || k.path().startsWith(prefix + ".")) {
          b.append(String.format(row, k.path(), k.type(), k.defaultValue(), k.doc()));
        }
      }
      if (c.isSection()) appendPresets(b, prefix, (Record) c.get(defaults));
    }
    return b.toString();
  }

  /** "  ppo.preset standard sets: lam 0.95, ..." for each preset other than the default one. */
  private static void appendPresets(StringBuilder b, String prefix, Record section) {
    for (Component c : Component.of(section.getClass())) {
      if (!c.isPreset()) continue;
      for (Object preset : c.type().getEnumConstants()) {
        if (preset.equals(c.get(section))) continue;
        List<String> changes = ((ConfigPreset) preset).overrides().entrySet().stream()
            .map(e -> e.getKey() + " " + e.getValue()).toList();
        b.append(String.format("  %s.%s %s sets: %s%n", prefix, c.key(), text(ConfigValues.toNode(preset)),
            String.join(", ", changes)));
      }
    }
  }

  /** A preset may set only keys of its own section (a typo would otherwise pass for a key the user wrote). */
  private static void checkPresetKeys(Class<?> type) {
    for (Component c : Component.of(type)) {
      if (c.isSection()) checkPresetKeys(c.type());
      if (!c.isPreset()) continue;
      List<String> known = Component.of(type).stream().filter(k -> !k.isSection() && !k.isPreset())
          .map(Component::key).toList();
      for (Object preset : c.type().getEnumConstants()) {
        for (String key : ((ConfigPreset) preset).overrides().keySet()) {
          if (!known.contains(key)) {
            throw new IllegalStateException(type.getSimpleName() + " preset " + preset + " sets unknown key " + key);
          }
        }
      }
    }
  }

  private static void collectKeys(Record r, String prefix, List<ConfigKey> out) {
    for (Component c : Component.of(r.getClass())) {
      String path = ConfigBinder.path(prefix, c.key());
      Object value = c.get(r);
      if (c.isSection()) {
        collectKeys((Record) value, path, out);
      } else {
        String type = ConfigValues.shortName(c.type()) + (c.nullable() ? " or null" : "");
        out.add(new ConfigKey(path, type, text(ConfigValues.toNode(value)), c.doc()));
      }
    }
  }

  /** The record as a tree: sections as mappings, every key present. */
  static ObjectNode tree(Record r) {
    ObjectNode node = JsonNodeFactory.instance.objectNode();
    for (Component c : Component.of(r.getClass())) {
      Object value = c.get(r);
      node.set(c.key(), c.isSection() ? tree((Record) value) : ConfigValues.toNode(value));
    }
    return node;
  }

  private static String text(JsonNode node) {
    return node.isNull() ? "null" : node.asText();
  }
}
