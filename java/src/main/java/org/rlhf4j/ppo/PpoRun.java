package org.rlhf4j.ppo;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.engine.Model;
import org.rlhf4j.train.Trainable;

/**
 * PPO's run as the {@link org.rlhf4j.train.TrainingLoop} sees it, the part that follows from
 * the config: a step is an iteration; evaluation every schedule.eval_every iterations and at the
 * last (when schedule.eval_prompts > 0); a checkpoint every schedule.checkpoint_every, keeping
 * schedule.keep_checkpoints (0: all); schedule.time_budget; the policy and a separate critic
 * kept equal over ranks. {@link PpoTrainer} adds the step and its state.
 */
abstract class PpoRun implements Trainable {
  private static final List<Map.Entry<String, String>> SHOWN = List.of(Map.entry("objective/scores", "scores"),
      Map.entry("objective/kl", "kl"), Map.entry("tokens_per_s", "tokens_per_s"));

  private final PpoRunConfig config;
  private final PpoParts parts;

  PpoRun(PpoRunConfig config, PpoParts parts) {
    this.config = config;
    this.parts = parts;
  }

  @Override
  public String label() {
    return "ppo";
  }

  @Override
  public long total() {
    return config.schedule().iterations();
  }

  @Override
  public boolean evalDue(long position) {
    var s = config.schedule();
    return s.evalPrompts() > 0 && (position % s.evalEvery() == 0 || position == s.iterations());
  }

  @Override
  public boolean checkpointDue(long position) {
    return position % config.schedule().checkpointEvery() == 0;
  }

  @Override
  public int keepCheckpoints() {
    int keep = config.schedule().keepCheckpoints();
    return keep == 0 ? Integer.MAX_VALUE : keep;
  }

  @Override
  public Map<String, Model> models() {
    Map<String, Model> models = new LinkedHashMap<>();
    models.put("policy", parts.policy());
    if (parts.critic() != null) models.put("critic", parts.critic());
    return models;
  }

  @Override
  public List<Map.Entry<String, String>> shown() {
    return SHOWN;
  }

  @Override
  public Duration timeBudget() {
    return config.schedule().timeBudget();
  }
}
