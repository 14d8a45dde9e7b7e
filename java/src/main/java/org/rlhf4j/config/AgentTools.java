package org.rlhf4j.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * The value of {@code agent.tools}: the Java tools an agent may call, a list of mappings
 * {@code {class: com.acme.Menu}}. Immutable.
 */
public final class AgentTools {

  private final List<String> classNames;

  public AgentTools(List<String> classNames) {
    this.classNames = List.copyOf(classNames);
  }

  /** The fully qualified class names, in the order written. */
  public List<String> classNames() {
    return classNames;
  }

  /** Reads a list of {class: ...}; a clear ConfigException naming key and entry otherwise. */
  static AgentTools fromNode(JsonNode node, String key, String origin) {
    if (!node.isArray()) {
      throw new ConfigException(key + " in " + origin + " must be a list of {class: ...}, got " + ConfigValues.show(node));
    }
    List<String> out = new ArrayList<>();
    for (int i = 0; i < node.size(); i++) {
      JsonNode e = node.get(i);
      String at = key + "[" + i + "] in " + origin;
      if (!e.isObject()) throw new ConfigException(at + " must be a mapping {class: a Tool class}");
      for (Iterator<String> it = e.fieldNames(); it.hasNext(); ) {
        String k = it.next();
        if (!k.equals("class")) throw new ConfigException(at + ": unknown key '" + k + "'; keys: class");
      }
      JsonNode c = e.get("class");
      if (c == null || !c.isTextual() || !Check.CLASS_NAME.matcher(c.textValue()).matches()) {
        throw new ConfigException(at + ": class must be a fully qualified Java class name, got " + ConfigValues.show(c));
      }
      out.add(c.textValue());
    }
    return new AgentTools(out);
  }

  JsonNode toNode() {
    ArrayNode list = JsonNodeFactory.instance.arrayNode();
    for (String c : classNames) list.addObject().put("class", c);
    return list;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof AgentTools a && a.classNames.equals(classNames);
  }

  @Override
  public int hashCode() {
    return classNames.hashCode();
  }

  @Override
  public String toString() {
    return classNames.toString();
  }
}
