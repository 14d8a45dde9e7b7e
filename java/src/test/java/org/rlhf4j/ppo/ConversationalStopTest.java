package org.rlhf4j.ppo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.engine.GenerateOptions;
import org.rlhf4j.testing.GoodWordReward;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.tokenizer.WordTokenizer;

/**
 * PPO's (and the critic-free presets') sampling of conversational prompts stops at the chat
 * template's end-of-turn token as well as EOS; plain-string prompts keep EOS alone.
 */
class ConversationalStopTest {
  private static final WordTokenizer TOK = TinyCheckpoints.tokenizer();

  @TempDir Path tmp;

  private GenerateOptions generation(String template, String prompts, String... extra) throws IOException {
    Path model = tmp.resolve("model");
    if (!Files.exists(model)) TinyCheckpoints.write(model, TinyCheckpoints.gpt2());
    TinyCheckpoints.writeChatTemplate(model, template);
    List<String> set = new ArrayList<>(List.of("model.path=" + model, "data.prompts=" + prompts,
        "run.out=" + tmp.resolve("run"), "reward.kind=function", "reward.function=" + GoodWordReward.class.getName(),
        "ppo.preset=grpo", "generation.max_new_tokens=6", "data.max_prompt_tokens=16", "schedule.rollout_batch=2",
        "schedule.eval_prompts=0"));
    set.addAll(List.of(extra));
    PpoRunConfig config = PpoRunConfig.loader().load(set);
    try (PpoParts parts = PpoSetup.load(config)) {
      return new PpoSampling(config, parts).generation();
    }
  }

  private Path chatPrompts() throws IOException {
    return Files.write(tmp.resolve("chat.jsonl"), List.of("{\"prompt\": [{\"role\": \"user\", \"content\": \"it is\"}]}",
        "{\"prompt\": [{\"role\": \"user\", \"content\": \"the food was\"}]}"));
  }

  @Test
  void conversationalPromptsStopAtTheEndOfTurnAsWellAsEos() throws IOException {
    String nine = TinyCheckpoints.chatTemplateEndingTurnsWith("nine");
    GenerateOptions chat = generation(nine, chatPrompts().toString());
    assertEquals(TOK.encode("nine")[0], chat.stopTokenId());
    assertEquals(TOK.eosId(), chat.eosTokenId());

    Path plain = TinyCheckpoints.prompts(tmp.resolve("plain.txt"), 4);
    assertEquals(-1, generation(nine, plain.toString()).stopTokenId(), "plain-string prompts: EOS alone");
    assertEquals(-1, generation(TinyCheckpoints.CHAT_TEMPLATE, chatPrompts().toString()).stopTokenId(),
        "a template that ends turns with EOS adds no stop");
    assertEquals(TOK.encode("nine")[0],
        generation(nine, chatPrompts().toString(), "generation.stop_token=nine").stopTokenId(),
        "generation.stop_token may name the end of turn itself");
  }

  @Test
  void aStopTokenBesideADifferentEndOfTurnIsRefused() throws IOException {
    String nine = TinyCheckpoints.chatTemplateEndingTurnsWith("nine");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> generation(nine, chatPrompts().toString(), "generation.stop_token=."));
    assertTrue(e.getMessage().startsWith("generation.stop_token and the chat template's end-of-turn token \"nine\""),
        e.getMessage());
    // Plain-string prompts keep generation.stop_token as before.
    Path plain = TinyCheckpoints.prompts(tmp.resolve("plain.txt"), 4);
    assertEquals(TOK.encode(".")[0], generation(nine, plain.toString(), "generation.stop_token=.").stopTokenId());
  }
}
