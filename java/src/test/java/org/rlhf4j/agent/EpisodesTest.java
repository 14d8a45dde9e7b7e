package org.rlhf4j.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.rlhf4j.chat.ChatTemplate;
import org.rlhf4j.config.AgentSection;
import org.rlhf4j.config.AgentTools;
import org.rlhf4j.engine.GenerateOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.tokenizer.WordTokenizer;
import org.rlhf4j.train.Seeds;

/**
 * The episode loop on constructed episodes (a scripted policy and environment): tokens, masks,
 * per-turn rewards, the budget, max turns and truncation; and on a tiny real model, whose
 * recorded log-probs equal a forward pass over the whole episode.
 */
class EpisodesTest {
  private static final WordTokenizer TOK = TinyCheckpoints.tokenizer();
  private static final ChatTemplate TEMPLATE = ChatTemplate.of(TinyCheckpoints.CHAT_TEMPLATE, "tiny template",
      Map.of("bos_token", "<bos>", "eos_token", "<eos>"));
  private static final int EOS = TOK.eosId();

  private static AgentRuntime runtime(int maxTurns) {
    return new AgentRuntime(new AgentSection(Scripted.class.getName(), new AgentTools(List.of()),
        AgentSection.ToolFormat.HERMES, maxTurns, 4, Duration.ofSeconds(5), 256));
  }

  private static int[] ids(String text) {
    return TOK.encode(text);
  }

  /** Plays, per (row seed, turn), the given text's tokens with log-prob -(k+1)/10; stopped when it ends with EOS. */
  private static final class Script implements TurnSampler {
    final Map<Long, int[]> turns = new HashMap<>();
    final List<Integer> caps = new ArrayList<>();

    Script turn(long rowSeed, int turn, String text) {
      turns.put(Seeds.mix(rowSeed, turn), ids(text));
      return this;
    }

    @Override
    public int contextWindow() {
      return 64;
    }

    @Override
    public List<Piece> sample(List<int[]> contexts, GenerateOptions options, int maxNewTokens, long[] seeds) {
      caps.add(maxNewTokens);
      List<Piece> out = new ArrayList<>();
      for (long s : seeds) {
        int[] all = turns.get(s);
        int[] t = Arrays.copyOf(all, Math.min(all.length, maxNewTokens));
        float[] lp = new float[t.length];
        for (int k = 0; k < lp.length; k++) lp[k] = -(k + 1) / 10f;
        int last = t[t.length - 1];
        out.add(new Piece(t, lp, null, last == EOS));
      }
      return out;
    }
  }

  private static GenerateOptions options(int budget) {
    return new GenerateOptions(budget, 1.0, 0, 1.0, EOS, -1, TOK.paddingId(), 0, false);
  }

  private static List<Episode> run(Script script, int maxTurns, int budget, long... seeds) {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (int i = 0; i < seeds.length; i++) rows.add(Environment.row("the food was", Map.of()));
    try (AgentRuntime rt = runtime(maxTurns)) {
      return new Episodes(script, TOK, TEMPLATE, rt, Map.of()).run(rows, options(budget), seeds);
    }
  }

  private static int[] concat(int[]... parts) {
    return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
  }

  @Test
  void observationsAreAppendedAsTheTemplatesDeltaWithActionMaskZero() {
    Script s = new Script().turn(1, 0, "one two <eos>").turn(1, 1, "very good <eos>")
        .turn(2, 0, "good <eos>");
    List<Episode> eps = run(s, 4, 30, 1, 2);

    Episode a = eps.get(0);
    assertArrayEquals(ids("<bos>user the food was <eos> assistant "), a.promptTokens());
    // After the turn's <eos>: the template's " " glue, then the tool's message and the next generation prompt.
    int[] observation = ids(" tool five six <eos> assistant ");
    int[] first = ids("one two <eos>"), second = ids("very good <eos>");
    assertArrayEquals(concat(first, observation, second), a.responseTokens());
    float[] mask = new float[a.responseTokens().length];
    Arrays.fill(mask, 0, first.length, 1f);
    Arrays.fill(mask, first.length + observation.length, mask.length, 1f);
    assertArrayEquals(mask, a.actionMask());
    assertEquals(first.length + second.length, a.actionTokens());
    // Recorded log-probs on the turns' tokens, 0 on the observation.
    assertEquals(-0.3f, a.logprobs()[first.length - 1]);
    assertEquals(0f, a.logprobs()[first.length]);
    assertEquals(-0.1f, a.logprobs()[first.length + observation.length]);
    // Each turn's reward on its last token (its end of turn).
    float[] rewards = new float[mask.length];
    rewards[first.length - 1] = 0.25f;
    rewards[mask.length - 1] = 1f;
    assertArrayEquals(rewards, a.turnRewards());
    int[] turnOf = new int[mask.length];
    Arrays.fill(turnOf, first.length + observation.length, mask.length, 1);
    assertArrayEquals(turnOf, a.turnOfToken());
    assertFalse(a.truncated());
    assertNull(a.values());
    assertEquals(List.of("one two", "very good"), a.turns().stream().map(Episode.Turn::text).toList());
    assertEquals(List.of(Message.user("the food was"), Message.assistant("one two", List.of()),
        Message.tool("call_0", "menu", "five six"), Message.assistant("very good", List.of())), a.messages());

    Episode b = eps.get(1);
    assertArrayEquals(ids("good <eos>"), b.responseTokens());
    assertEquals(1, b.turns().size());
    // Both rows share the first call; only row 1 is left for the second, whose cap is its remaining budget.
    assertEquals(List.of(30, 30 - first.length - observation.length), s.caps);
  }

  @Test
  void theBudgetCountsObservationsAndEndsEpisodesTruncated() {
    int[] first = ids("one two <eos>");
    int observation = ids(" tool five six <eos> assistant ").length;
    // A turn cut by the budget before its end of turn.
    Episode cut = run(new Script().turn(1, 0, "one two three four five six seven <eos>"), 4, 5, 1).get(0);
    assertArrayEquals(ids("one two three four five"), cut.responseTokens());
    assertTrue(cut.truncated());
    assertEquals(List.of(new Episode.Turn("one two three four five", List.of(), List.of(), 0)), cut.turns());
    // An observation that would leave no room for the next turn is not appended.
    Episode full = run(new Script().turn(1, 0, "one two <eos>"), 4, first.length + observation, 1).get(0);
    assertArrayEquals(first, full.responseTokens());
    assertTrue(full.truncated());
    assertEquals(1, full.turns().size());
    assertEquals(0.25f, full.turnRewards()[first.length - 1]);
    // One more token of room: the observation fits, and the next turn gets that one token.
    Episode room = run(new Script().turn(1, 0, "one two <eos>").turn(1, 1, "good <eos>"), 4,
        first.length + observation + 1, 1).get(0);
    assertEquals(first.length + observation + 1, room.responseTokens().length);
    assertTrue(room.truncated());
  }

  @Test
  void maxTurnsEndsTheEpisodeAfterItsLastTurnsReward() {
    Script s = new Script().turn(1, 0, "one <eos>").turn(1, 1, "two <eos>").turn(1, 2, "three <eos>");
    Episode e = run(s, 2, 40, 1).get(0);
    assertEquals(List.of("one", "two"), e.turns().stream().map(Episode.Turn::text).toList());
    assertFalse(e.truncated());
    assertEquals(0.5, sum(e.turnRewards()), 1e-6);
    assertEquals(ids("one <eos>").length * 2 + ids(" tool five six <eos> assistant ").length, e.responseTokens().length);
  }

  @Test
  void aTemplateThatRewritesEarlierTurnsIsAClearError() {
    // Renders only the last message: adding the tool's message changes what came before.
    ChatTemplate lastOnly = ChatTemplate.of("{{ messages[-1]['content'] }} {% if add_generation_prompt %}go {% endif %}",
        "last-only.jinja", Map.of());
    try (AgentRuntime rt = runtime(4)) {
      Episodes ep = new Episodes(new Script().turn(1, 0, "one <eos>"), TOK, lastOnly, rt, Map.of());
      var e = assertThrows(IllegalStateException.class,
          () -> ep.run(List.of(Environment.row("two", Map.of())), options(20), new long[] {1}));
      assertTrue(e.getMessage().startsWith("chat template last-only.jinja: "), e.getMessage());
    }
  }

  private static double sum(float[] xs) {
    double s = 0;
    for (float x : xs) s += x;
    return s;
  }

  /** Sampled on a tiny model: a turn ends on EOS or the stop word "the", so episodes take several turns. */
  @Test
  void recordedLogprobsOfAssistantTokensEqualAForwardPassOverTheWholeEpisode() {
    int stop = ids("the")[0];
    try (Model policy = Model.create(TinyCheckpoints.gpt2(), "cpu"); AgentRuntime rt = runtime(4)) {
      GenerateOptions o = new GenerateOptions(40, 1.0, 0, 1.0, EOS, stop, TOK.paddingId(), 0, false);
      List<Map<String, Object>> rows = new ArrayList<>();
      long[] seeds = new long[6];
      for (int i = 0; i < seeds.length; i++) {
        rows.add(Environment.row(i % 2 == 0 ? "the food was" : "it is", Map.of()));
        seeds[i] = 100 + i;
      }
      Episodes episodes = Episodes.of(policy, TOK, TEMPLATE, rt);
      List<Episode> eps = episodes.run(rows, o, seeds);
      assertTrue(eps.stream().anyMatch(e -> e.turns().size() >= 2), "some episode takes several turns");
      // The same rows in another batch (one alone) give the same episode.
      Episode alone = episodes.run(List.of(rows.get(3)), o, new long[] {seeds[3]}).get(0);
      assertArrayEquals(eps.get(3).responseTokens(), alone.responseTokens());
      try (Rollout r = Rollout.of(policy, eps.stream().map(Episode::promptTokens).toList(),
          eps.stream().map(Episode::responseTokens).toList(), TOK.paddingId(), EOS)) {
        r.scorePolicy(policy, 1.0, Rollout.LOGPROBS);
        float[] forward = r.floats(RolloutField.OLD_LOGPROBS);
        for (int i = 0; i < eps.size(); i++) {
          Episode e = eps.get(i);
          for (int t = 0; t < e.responseTokens().length; t++) {
            if (e.actionMask()[t] == 0) continue;
            assertEquals(forward[i * r.responseLen() + t], e.logprobs()[t], 1e-5, "episode " + i + " token " + t);
          }
        }
      }
      // Greedy works too, and repeats itself.
      GenerateOptions greedy = o.withSampling(0, 0, 1.0);
      assertArrayEquals(episodes.run(rows, greedy, seeds).get(1).responseTokens(),
          episodes.run(rows, greedy, new long[] {9, 9, 9, 9, 9, 9}).get(1).responseTokens());
    }
  }
}
