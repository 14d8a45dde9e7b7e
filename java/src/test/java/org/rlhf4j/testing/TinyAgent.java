package org.rlhf4j.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A multi-turn PPO setup on tiny files: the tiny GPT-2 with {@link TinyCheckpoints#CHAT_TEMPLATE},
 * conversational prompts, and a config whose agent is the given environment class; a turn ends at
 * the word "and" (the stop token) or EOS, and an episode has 24 tokens at most.
 */
public final class TinyAgent {
  private TinyAgent() {}

  /** Writes dir/sft, dir/prompts.jsonl (20 conversations) and dir/agent.yaml (run.out dir/run); returns the config. */
  public static Path configFile(Path dir, String environmentClass) {
    Path sft = TinyCheckpoints.write(dir.resolve("sft"), TinyCheckpoints.gpt2());
    TinyCheckpoints.writeChatTemplate(sft, TinyCheckpoints.CHAT_TEMPLATE);
    String[] openings = {"the food was", "it is", "one two", "the food is very", "three four five"};
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      lines.add("{\"prompt\": [{\"role\": \"user\", \"content\": \"" + openings[i % openings.length] + "\"}]}");
    }
    String yaml = TinyPpo.config(dir.resolve("run"), sft, dir.resolve("prompts.jsonl"),
        "max_new_tokens: 24\n  stop_token: and", "agent:\n  environment: " + environmentClass + "\n  max_turns: 3\n",
        2);
    try {
      Files.write(dir.resolve("prompts.jsonl"), lines);
      return Files.writeString(dir.resolve("agent.yaml"), yaml);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
