package org.rlhf4j.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * What the user wrote: the tree of a YAML or JSON file with the {@code --set key.path=value}
 * overrides applied on top, and which keys came from where (for messages).
 *
 * @param tree the merged tree (not yet checked against any schema)
 * @param file the file's name as given, or null when there is none
 * @param overridden the key paths set by --set
 * @param preset the key paths a preset set, each with its origin ("ppo.preset dapo")
 */
record ConfigSource(ObjectNode tree, String file, Set<String> overridden, Map<String, String> preset) {

  static final YAMLMapper YAML = YAMLMapper.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
      .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
      .build();
  private static final JsonMapper JSON = JsonMapper.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .build();

  /**
   * Reads file (YAML, or JSON when it ends in .json; null for none) and applies the overrides
   * in order, a later one winning.
   */
  static ConfigSource read(Path file, List<String> overrides) {
    ObjectNode tree = file == null ? JsonNodeFactory.instance.objectNode() : readFile(file);
    ConfigSource source = new ConfigSource(tree, file == null ? null : file.toString(), new LinkedHashSet<>(),
        new LinkedHashMap<>());
    for (String o : overrides) source.apply(o);
    return source;
  }

  /** A tree parsed elsewhere (name stands for its file in messages) with the overrides applied. */
  static ConfigSource of(JsonNode root, String name, List<String> overrides) {
    ObjectNode tree;
    if (root == null || root.isMissingNode() || root.isNull()) {
      tree = JsonNodeFactory.instance.objectNode();
    } else if (root instanceof ObjectNode o) {
      tree = o.deepCopy();
    } else {
      throw new ConfigException(name + ": expected a mapping of sections (run:, model:, ...) at the top level, got "
          + ConfigValues.show(root));
    }
    ConfigSource source = new ConfigSource(tree, name, new LinkedHashSet<>(), new LinkedHashMap<>());
    for (String o : overrides) source.apply(o);
    return source;
  }

  /** Where the value at key (or below it) came from: "--set", a preset ("ppo.preset dapo") or the file's name. */
  String origin(String key) {
    for (String o : overridden) {
      if (o.equals(key) || o.startsWith(key + ".")) return "--set";
    }
    String preset = this.preset.get(key);
    if (preset != null) return preset;
    return file != null ? file : "--set";
  }

  /**
   * Applies a preset's "key.path=value" settings as {@link #read} applies --set, except that a
   * key the user wrote (in the file or by --set) keeps its value: a preset sits beneath both.
   *
   * @param origin how messages name the preset ("ppo.preset dapo")
   */
  void applyPreset(List<String> settings, String origin) {
    for (String s : settings) {
      String key = s.substring(0, s.indexOf('='));
      if (!isSet(key)) {
        apply(s);
        overridden.remove(key);
        preset.put(key, origin);
      }
    }
  }

  private boolean isSet(String key) {
    JsonNode node = tree;
    for (String part : key.split("\\.")) {
      node = node == null ? null : node.get(part);
    }
    return node != null;
  }

  private static ObjectNode readFile(Path file) {
    String name = file.toString();
    boolean json = name.toLowerCase(Locale.ROOT).endsWith(".json");
    ObjectMapper mapper = json ? JSON : YAML;
    JsonNode root;
    try {
      root = mapper.readTree(file.toFile());
    } catch (JsonProcessingException e) {
      throw syntaxError(name + ":" + line(e), json ? "invalid JSON" : "invalid YAML", e);
    } catch (NoSuchFileException | FileNotFoundException e) {
      throw new ConfigException("config file not found: " + name);
    } catch (AccessDeniedException e) {
      throw new ConfigException("config file not readable: " + name);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read config file " + name, e);
    }
    if (root == null || root.isMissingNode() || root.isNull()) return JsonNodeFactory.instance.objectNode();
    if (!root.isObject()) {
      throw new ConfigException(name + ": expected a mapping of sections (run:, model:, ...) at the top level, got "
          + ConfigValues.show(root));
    }
    return (ObjectNode) root;
  }

  /** Applies one "key.path=value" override; the value is read as YAML (scalar or list). */
  private void apply(String override) {
    int eq = override.indexOf('=');
    String key = eq < 0 ? "" : override.substring(0, eq).strip();
    String[] parts = key.split("\\.", -1);
    if (key.isEmpty() || List.of(parts).contains("")) {
      throw new ConfigException("--set expects key.path=value, got '" + override + "'");
    }
    JsonNode value;
    try {
      value = YAML.readTree(override.substring(eq + 1));
    } catch (JsonProcessingException e) {
      throw syntaxError("--set " + override, "invalid YAML value", e);
    }
    if (value == null || value.isMissingNode()) value = JsonNodeFactory.instance.nullNode();
    ObjectNode node = tree;
    for (int i = 0; i < parts.length - 1; i++) {
      // A scalar in the way is replaced: the binder then reports the --set value's type.
      node = node.get(parts[i]) instanceof ObjectNode child ? child : node.putObject(parts[i]);
    }
    node.set(parts[parts.length - 1], value);
    overridden.add(key);
  }

  private static int line(JsonProcessingException e) {
    return e.getLocation() == null ? 0 : e.getLocation().getLineNr();
  }

  /** One line: where, what, and snakeyaml's problem (with its context) rather than its drawing. */
  private static ConfigException syntaxError(String where, String what, JsonProcessingException e) {
    String reason;
    if (e.getCause() instanceof MarkedYAMLException y && y.getProblem() != null) {
      reason = y.getProblem();
      if (y.getContext() != null && y.getContextMark() != null) {
        reason += " (" + y.getContext() + " at line " + (y.getContextMark().getLine() + 1) + ")";
      }
    } else {
      reason = e.getOriginalMessage().lines().findFirst().orElse("").strip();
    }
    return new ConfigException(where + ": " + what + ": " + reason);
  }
}
