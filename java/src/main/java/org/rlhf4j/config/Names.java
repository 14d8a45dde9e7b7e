package org.rlhf4j.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.ArrayList;
import java.util.List;

/**
 * A config value that is one name or a list of names, as TRL's list-or-string options
 * ({@code loss_type: sigmoid} or {@code loss_type: [sigmoid, sft]}). Written back as a list.
 */
public record Names(List<String> values) {
  public Names {
    values = List.copyOf(values);
    if (values.isEmpty()) throw new IllegalArgumentException("an empty list of names");
  }

  public static Names of(String... values) {
    return new Names(List.of(values));
  }

  static Names fromNode(JsonNode node, String key, String origin) {
    List<String> out = new ArrayList<>();
    if (node.isTextual() && !node.textValue().isBlank()) {
      out.add(node.textValue().trim());
    } else if (node.isArray() && !node.isEmpty()) {
      for (JsonNode e : node) {
        if (!e.isTextual() || e.textValue().isBlank()) {
          throw new ConfigException(key + " in " + origin + " must be a name or a list of names, got an entry "
              + ConfigValues.show(e));
        }
        out.add(e.textValue().trim());
      }
    } else {
      throw new ConfigException(key + " in " + origin + " must be a name or a non-empty list of names, got "
          + ConfigValues.show(node));
    }
    return new Names(out);
  }

  JsonNode toNode() {
    ArrayNode a = JsonNodeFactory.instance.arrayNode();
    values.forEach(a::add);
    return a;
  }
}
