package org.rlhf4j.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.demo.task.ReviewTask;

/** The files the demo's stages read, written from its task. Stateless. */
final class DemoData {
  private DemoData() {}

  /**
   * The task's data in TRL's conversational formats, an opening as the user's message and a
   * continuation as the assistant's: sft.jsonl ({"messages"}), pairs.jsonl ({"prompt",
   * "chosen", "rejected"}, lists of messages), prompts.jsonl and eval_prompts.jsonl ({"prompt"}).
   */
  static Path write(Path dir, ReviewTask task, DemoScale scale, long seed, int curvePrompts) throws IOException {
    Files.createDirectories(dir);
    ObjectMapper json = new ObjectMapper();
    List<String> sft = new ArrayList<>();
    for (var e : task.sftCorpus(scale.sftExamples(), seed + 11)) {
      sft.add(json.writeValueAsString(ordered("messages", List.of(user(e.prompt()), assistant(e.response())))));
    }
    Files.write(dir.resolve("sft.jsonl"), sft);
    List<String> pairs = new ArrayList<>();
    for (var p : task.preferencePairs(scale.pairs(), scale.labelNoise(), seed + 12)) {
      pairs.add(json.writeValueAsString(ordered("prompt", List.of(user(p.prompt())),
          "chosen", List.of(assistant(p.chosen())), "rejected", List.of(assistant(p.rejected())))));
    }
    Files.write(dir.resolve("pairs.jsonl"), pairs);
    Files.write(dir.resolve("prompts.jsonl"), promptLines(json, task.prompts(2000, seed + 13)));
    Files.write(dir.resolve("eval_prompts.jsonl"), promptLines(json, task.heldOutPrompts(curvePrompts)));
    return dir;
  }

  private static List<String> promptLines(ObjectMapper json, List<String> openings) throws IOException {
    List<String> lines = new ArrayList<>();
    for (String o : openings) lines.add(json.writeValueAsString(ordered("prompt", List.of(user(o)))));
    return lines;
  }

  /** A JSON object's fields in the order given (Map.of's order changes from run to run). */
  private static Map<String, Object> ordered(Object... keysAndValues) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) m.put((String) keysAndValues[i], keysAndValues[i + 1]);
    return m;
  }

  private static Map<String, Object> user(String text) {
    return DemoChatTemplate.message("user", text);
  }

  private static Map<String, Object> assistant(String text) {
    return DemoChatTemplate.message("assistant", text);
  }
}
