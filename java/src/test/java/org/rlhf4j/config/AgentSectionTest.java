package org.rlhf4j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The agent section binds from YAML like every other section, with one-line errors. */
class AgentSectionTest {
  private static AgentSection bind(String yaml) throws Exception {
    ObjectNode tree = (ObjectNode) ConfigSource.YAML.readTree(yaml);
    ConfigSource source = new ConfigSource(tree, "agent.yaml", new LinkedHashSet<>(), java.util.Map.of());
    return new ConfigBinder(source, List.of()).bind(AgentSection.class, tree.get("agent"), AgentSection.defaults(), "agent");
  }

  @Test
  void readsToolsAndLimitsAndKeepsDefaults() throws Exception {
    AgentSection a = bind("""
        agent:
          tools: [{class: com.acme.Menu}, {class: com.acme.Calc}]
          max_turns: 3
          tool_timeout: 5s
        """);
    assertEquals(List.of("com.acme.Menu", "com.acme.Calc"), a.tools().classNames());
    assertEquals(3, a.maxTurns());
    assertEquals(Duration.ofSeconds(5), a.toolTimeout());
    assertEquals(256, a.maxToolResponseChars());
    assertEquals(AgentSection.ToolFormat.HERMES, a.toolFormat());
    assertEquals(a.tools(), AgentTools.fromNode(ConfigValues.toNode(a.tools()), "agent.tools", "x"), "round trip");
  }

  @Test
  void badValuesNameTheKey() {
    assertEquals("agent.tools[1] in agent.yaml: class must be a fully qualified Java class name, got 'not a class'",
        assertThrows(ConfigException.class, () -> bind("agent: {tools: [{class: a.B}, {class: 'not a class'}]}")).getMessage());
    assertEquals("agent.tools[0] in agent.yaml: unknown key 'name'; keys: class",
        assertThrows(ConfigException.class, () -> bind("agent: {tools: [{name: a}]}")).getMessage());
    assertEquals("agent.max_turns must be >= 1, got 0",
        assertThrows(ConfigException.class, () -> bind("agent: {max_turns: 0}")).getMessage());
    assertEquals("agent.tool_format in agent.yaml must be one of hermes, llama3_json, got 'llama3'",
        assertThrows(ConfigException.class, () -> bind("agent: {tool_format: llama3}")).getMessage());
  }
}
