package org.rlhf4j.config;

import java.time.Duration;
import java.util.List;

/**
 * Section {@code agent} of the ppo command: multi-turn episodes with tools, on when tools or an
 * environment are named (see {@link PpoRunConfig#agentEnabled()}).
 */
public record AgentSection(
    @Doc("Fully qualified class name of the Environment (null = the built-in tool-calling environment).")
        @Nullable String environment,
    @Doc("Tools the model may call: a list of {class: a Tool with a public no-argument constructor}.") AgentTools tools,
    @Doc("How tool calls are written in the model's text: hermes (Qwen3/Hermes <tool_call>{...}</tool_call>) or "
        + "llama3_json (Llama 3.1: the message is {\"name\", \"parameters\"}, several separated by ;).")
        ToolFormat toolFormat,
    @Doc("Assistant turns per episode at most.") int maxTurns,
    @Doc("Tool calls running at once, across all episodes.") int maxConcurrency,
    @Doc("Time a tool call may take before the model is told it timed out.") Duration toolTimeout,
    @Doc("A longer tool result is cut in the middle to this many characters, with a marker.") int maxToolResponseChars) {


  /** The text format of tool calls. */
  public enum ToolFormat {
    HERMES,
    LLAMA3_JSON
  }

  public AgentSection {
    if (environment != null && !Check.CLASS_NAME.matcher(environment).matches()) {
      throw new ConfigException("environment must be a fully qualified Java class name, got '" + environment + "'");
    }
    Check.notNull("tools", tools);
    Check.notNull("tool_format", toolFormat);
    Check.atLeast("max_turns", maxTurns, 1);
    Check.atLeast("max_concurrency", maxConcurrency, 1);
    Check.notNull("tool_timeout", toolTimeout);
    Check.rule(toolTimeout.isPositive(), "tool_timeout must be > 0, got " + Durations.format(toolTimeout));
    Check.atLeast("max_tool_response_chars", maxToolResponseChars, 16);
  }

  /** The built-in environment, no tools, hermes, 4 turns, 32 calls at once, 30 s per call, 256 chars. */
  public static AgentSection defaults() {
    return new AgentSection(null, new AgentTools(List.of()), ToolFormat.HERMES, 4, 32, Duration.ofSeconds(30), 256);
  }
}
