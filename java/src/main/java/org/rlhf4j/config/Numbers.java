package org.rlhf4j.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.ArrayList;
import java.util.List;

/** A config value that is a non-empty list of numbers (e.g. TRL's loss_weights). */
public record Numbers(List<Double> values) {
  public Numbers {
    values = List.copyOf(values);
    if (values.isEmpty()) throw new IllegalArgumentException("an empty list of numbers");
  }

  static Numbers fromNode(JsonNode node, String key, String origin) {
    List<Double> out = new ArrayList<>();
    if (node.isNumber()) {
      out.add(node.doubleValue());
    } else if (node.isArray() && !node.isEmpty()) {
      for (JsonNode e : node) {
        if (!e.isNumber()) {
          throw new ConfigException(key + " in " + origin + " must be a list of numbers, got an entry "
              + ConfigValues.show(e));
        }
        out.add(e.doubleValue());
      }
    } else {
      throw new ConfigException(key + " in " + origin + " must be a non-empty list of numbers, got "
          + ConfigValues.show(node));
    }
    return new Numbers(out);
  }

  JsonNode toNode() {
    ArrayNode a = JsonNodeFactory.instance.arrayNode();
    values.forEach(a::add);
    return a;
  }
}
