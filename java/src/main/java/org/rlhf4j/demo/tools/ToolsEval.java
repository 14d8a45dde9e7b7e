package org.rlhf4j.demo.tools;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.agent.AgentRuntime;
import org.rlhf4j.agent.Environment;
import org.rlhf4j.agent.Episode;
import org.rlhf4j.agent.Episodes;
import org.rlhf4j.chat.ChatTemplate;
import org.rlhf4j.config.AgentSection;
import org.rlhf4j.config.AgentTools;
import org.rlhf4j.engine.GenerateOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.tokenizer.WordTokenizer;

/**
 * The tools demo's hidden judges: each held-out question runs as a greedy episode with the menu
 * tool (the episode loop GRPO trains through), and is judged by exact match of its final answer
 * with the price and by whether it called the tool. Stateless.
 */
final class ToolsEval {
  /** One held-out episode as the judges saw it. */
  record Sample(String question, String transcript, String gold, boolean correct, boolean calledTool) {}

  /** The samples and their rates. */
  record Result(List<Sample> samples) {
    double accuracy() {
      return samples.stream().filter(Sample::correct).count() / (double) samples.size();
    }

    double toolCallRate() {
      return samples.stream().filter(Sample::calledTool).count() / (double) samples.size();
    }

    /** The share of all questions answered right after calling the tool (true) or without it (false). */
    double rightWith(boolean calledTool) {
      return samples.stream().filter(s -> s.correct() && s.calledTool() == calledTool).count()
          / (double) samples.size();
    }

    /** The rows of the before/after table; the last two add up to the accuracy. */
    Map<String, Double> table() {
      Map<String, Double> m = new LinkedHashMap<>();
      m.put(ToolsSummary.ACCURACY, accuracy());
      m.put(ToolsSummary.TOOL_CALL_RATE, toolCallRate());
      m.put("right, with the tool", rightWith(true));
      m.put("right, without it", rightWith(false));
      return m;
    }
  }

  private ToolsEval() {}

  /** The agent section of the demo: the menu tool, Hermes calls, a call and an answer. */
  static AgentSection agent() {
    AgentSection d = AgentSection.defaults();
    return new AgentSection(null, new AgentTools(List.of(MenuTool.class.getName())), AgentSection.ToolFormat.HERMES,
        ToolsDemo.MAX_TURNS, d.maxConcurrency(), Duration.ofSeconds(10), d.maxToolResponseChars());
  }

  /** Greedy episodes of policy on the questions. */
  static Result evaluate(Model policy, WordTokenizer tokenizer, ChatTemplate template, List<MenuTask.Question> questions) {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (var q : questions) rows.add(Environment.row(q.text(), Map.of()));
    GenerateOptions greedy = new GenerateOptions(ToolsDemo.MAX_NEW_TOKENS, 0, 0, 1, tokenizer.eosId(), -1,
        tokenizer.padId(), 0, false);
    List<Episode> episodes;
    try (AgentRuntime runtime = new AgentRuntime(agent())) {
      episodes = Episodes.of(policy, tokenizer, template, runtime).run(rows, greedy, new long[rows.size()]);
    }
    List<Sample> out = new ArrayList<>();
    for (int i = 0; i < questions.size(); i++) {
      MenuTask.Question q = questions.get(i);
      Episode e = episodes.get(i);
      String transcript = tokenizer.decode(e.responseTokens(), true);
      String answer = finalAnswer(e);
      out.add(new Sample(q.text(), transcript, q.answer(), answer.equals(q.answer()), e.toolCalls() > 0));
    }
    return new Result(out);
  }

  /** The last turn's text when it is an answer (not a call, not cut short by the budget), else empty. */
  static String finalAnswer(Episode e) {
    if (e.truncated() || e.turns().isEmpty()) return "";
    Episode.Turn last = e.turns().getLast();
    return last.calls().isEmpty() && !last.text().contains("<tool_call>") ? last.text().strip() : "";
  }
}
