package org.rlhf4j.ppo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rlhf4j.agent.AgentRuntime;
import org.rlhf4j.agent.Environment;
import org.rlhf4j.agent.Episode;
import org.rlhf4j.agent.Episodes;
import org.rlhf4j.agent.Scripted;
import org.rlhf4j.chat.ChatTemplate;
import org.rlhf4j.config.AgentSection;
import org.rlhf4j.config.AgentTools;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.engine.GenerateOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.tokenizer.WordTokenizer;

/**
 * Observation tokens are outside the objective: moving what the loss reads at them (their old
 * and reference log-probs, their old values) moves neither the feedback nor the loss, while
 * moving the same at an assistant token does. A finite-difference check through
 * r4j_ppo_rewards_ex, r4j_ppo_advantages_ex and r4j_ppo_accumulate_ex.
 */
class AgentLossTest {
  private static final WordTokenizer TOK = TinyCheckpoints.tokenizer();

  private static List<Episode> episodes(Model policy, boolean values) {
    ChatTemplate template = ChatTemplate.of(TinyCheckpoints.CHAT_TEMPLATE, "tiny", Map.of("bos_token", "<bos>",
        "eos_token", "<eos>"));
    AgentSection section = new AgentSection(Scripted.class.getName(), new AgentTools(List.of()),
        AgentSection.ToolFormat.HERMES, 3, 4, Duration.ofSeconds(5), 256);
    try (AgentRuntime rt = new AgentRuntime(section)) {
      List<Map<String, Object>> rows = new ArrayList<>();
      long[] seeds = new long[8];
      for (int i = 0; i < seeds.length; i++) {
        rows.add(Environment.row(i % 2 == 0 ? "the food was" : "it is", Map.of()));
        seeds[i] = 40 + i;
      }
      GenerateOptions o = new GenerateOptions(24, 1.0, 0, 1.0, TOK.eosId(), TOK.encode("and")[0], TOK.paddingId(), 0,
          values);
      return Episodes.of(policy, TOK, template, rt).run(rows, o, seeds);
    }
  }

  /** The loss over the whole batch after feedback, with the perturbed field's value at the chosen tokens moved by 0.5. */
  private static double loss(Model policy, Model ref, List<Episode> eps, PpoRunConfig cfg, RolloutField field,
      IntPredicate moved) {
    try (Rollout r = EpisodeRollout.of(policy, eps, TOK.paddingId(), 1.0, false)) {
      r.scoreRef(ref, null, 1.0);
      float[] scores = new float[eps.size()];
      for (int i = 0; i < scores.length; i++) scores[i] = i % 3 - 1;
      r.write(RolloutField.SCORES, scores);
      float[] group = new float[eps.size()];
      for (int i = 0; i < group.length; i++) group[i] = i / 2;
      r.write(RolloutField.GROUP_ID, group);
      // The learner as after a step: at ratio 1 everywhere a loss over whitened advantages
      // (REINFORCE++) is minus their mean, 0 whatever the rewards, and could not show a move.
      float[] old = r.floats(RolloutField.OLD_LOGPROBS);
      for (int i = 0; i < old.length; i++) old[i] += 0.05f * (i % 5 - 2);
      r.write(RolloutField.OLD_LOGPROBS, old);
      if (field != null) {
        float[] v = r.floats(field);
        for (int i = 0; i < v.length; i++) if (moved.test(i)) v[i] += 0.5f;
        r.write(field, v);
      }
      r.rewards(cfg.ppoOptions(), cfg.algoOptions(), 0.1, 0, 1);
      r.advantages(cfg.ppoOptions(), cfg.algoOptions());
      long[] all = new long[eps.size()];
      for (int i = 0; i < all.length; i++) all[i] = i;
      return r.accumulate(policy, null, all, cfg.ppoOptions(), cfg.algoOptions(), 1.0).stats().lossTotal();
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"ppo.estimator=gae", "ppo.estimator=grpo,ppo.kl_in=loss", "ppo.estimator=reinforce_pp"})
  void observationTokensMoveNeitherFeedbackNorLoss(String sets) {
    PpoRunConfig cfg = PpoRunConfig.loader().load(new ArrayList<>(List.of(("model.path=m,data.prompts=p,"
        + "reward.kind=function,reward.function=x,generation.num_samples=2,ppo.minibatch_size=8,ppo.ent_coef=0.01,"
        + sets).split(","))));
    boolean critic = cfg.ppo().estimator().usesCritic();
    try (Model policy = Model.create(TinyCheckpoints.gpt2().withValueHead(critic), "cpu");
        Model ref = Model.create(TinyCheckpoints.gpt2(), "cpu")) {
      List<Episode> eps = episodes(policy, critic);
      int width = eps.stream().mapToInt(e -> e.responseTokens().length).max().orElseThrow();
      IntPredicate observation = i -> {
        Episode e = eps.get(i / width);
        int t = i % width;
        return t < e.responseTokens().length && e.actionMask()[t] == 0;
      };
      IntPredicate firstAction = i -> i == 0;
      assertTrue(eps.stream().anyMatch(e -> e.actionTokens() < e.responseTokens().length), "some observation tokens");
      double base = loss(policy, ref, eps, cfg, null, null);
      List<RolloutField> fields = new ArrayList<>(List.of(RolloutField.OLD_LOGPROBS, RolloutField.REF_LOGPROBS));
      if (critic) fields.add(RolloutField.OLD_VALUES);
      for (RolloutField f : fields) {
        assertEquals(base, loss(policy, ref, eps, cfg, f, observation), 1e-7, f + " at observation tokens");
        assertNotEquals(base, loss(policy, ref, eps, cfg, f, firstAction), f + " at an assistant token");
      }
    }
  }
}
