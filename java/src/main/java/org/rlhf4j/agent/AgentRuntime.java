package org.rlhf4j.agent;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.ArrayList;
import java.util.List;
import org.rlhf4j.config.AgentSection;

/**
 * What the episode loop needs from {@code agent}: the tools (one instance each, shared), their
 * spec for the chat template's {@code tools}, the parser of the model's format, and a new
 * Environment per episode, all sharing one concurrency bound and one set of counters.
 */
public final class AgentRuntime implements AutoCloseable {
  private final AgentSection config;
  private final ToolRunner runner;
  private final ToolCallParser parser;

  /** @throws IllegalArgumentException naming the key when a class cannot be instantiated */
  public AgentRuntime(AgentSection config) {
    List<Tool> tools = new ArrayList<>();
    List<String> names = config.tools().classNames();
    for (int i = 0; i < names.size(); i++) tools.add(Classes.instantiate(names.get(i), Tool.class, "agent.tools[" + i + "]"));
    this.config = config;
    this.runner = new ToolRunner(tools, config.maxConcurrency(), config.toolTimeout(), config.maxToolResponseChars(),
        new ToolMetrics());
    this.parser = ToolCallParser.of(config.toolFormat());
    if (config.environment() != null) newEpisode().close(); // a bad class fails now, not mid-run
  }

  /** The chat template's {@code tools} argument. */
  public ArrayNode toolSpecs() {
    ArrayNode out = JsonNodeFactory.instance.arrayNode();
    for (Tool t : runner.tools()) out.add(t.spec());
    return out;
  }

  public ToolCallParser parser() {
    return parser;
  }

  public ToolMetrics metrics() {
    return runner.metrics();
  }

  public int maxTurns() {
    return config.maxTurns();
  }

  /** A fresh environment for one episode: agent.environment's class, else the built-in tool environment. */
  public Environment newEpisode() {
    if (config.environment() == null) return new ToolEnvironment(runner, parser, config.maxTurns());
    return Classes.instantiate(config.environment(), Environment.class, "agent.environment");
  }

  @Override
  public void close() {
    runner.close();
  }
}
