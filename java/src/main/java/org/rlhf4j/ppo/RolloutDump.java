package org.rlhf4j.ppo;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.rlhf4j.agent.Episode;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.data.Prompt;
import org.rlhf4j.engine.AlgoOptions;
import org.rlhf4j.engine.PpoOptions;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;
import org.rlhf4j.tokenizer.Tokenizer;

/**
 * Writes every rollout of a run to {@code DIR/iter-NNNNNN.jsonl}, so that a run can be debugged
 * with any tool. The first line holds the settings the feedback phase used: the ppo and reward
 * sections, the engine's {@link PpoOptions} and {@link AlgoOptions} and the iteration's kl_coef.
 * Then one object per sample: {@code prompt}, {@code response}, {@code group_id} (the samples of
 * one prompt share it), {@code query_tokens} (without padding), {@code response_tokens}, {@code
 * score} (as scored, before clipping and normalisation), {@code score_shaped} (as put on the last
 * token), {@code rewards_by_function} (each reward.functions entry's value, by label), {@code
 * ended}, and per response token (padding removed) {@code old_logprobs}, {@code ref_logprobs},
 * {@code old_values}, {@code kl}, {@code rewards}, {@code returns}, {@code advantages} (before
 * whitening), {@code advantages_whitened} and {@code loss_mask} (1 where the token counts in the
 * loss). With an agent, each sample also has the fields of {@link EpisodeDump}.
 *
 * <p>Each file is written to a temp sibling and renamed, so a reader never sees half of one.
 * Called on the trainer's thread; not thread-safe.
 */
public final class RolloutDump implements PpoTrainer.RolloutObserver {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final ObjectMapper SNAKE = new ObjectMapper()
      .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);

  private final Path dir;
  private final PpoTrainer trainer;
  private final Tokenizer tokenizer;
  private final JsonNode ppo;
  private final JsonNode reward;
  private final ObjectNode options;
  private final ObjectNode algo;

  /**
   * A dump of trainer's rollouts into dir (created at the first rollout). Register it with
   * {@link PpoTrainer#addRolloutObserver}.
   */
  public RolloutDump(Path dir, PpoTrainer trainer) {
    this.dir = dir;
    this.trainer = trainer;
    this.tokenizer = trainer.parts().tokenizer();
    PpoRunConfig config = trainer.config();
    // The config file's own form (snake_case keys, lower-case enums), so the header reads like config.yaml.
    JsonNode tree;
    try {
      tree = new YAMLMapper().readTree(PpoRunConfig.loader().toYaml(config));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("rollout dump: cannot read back the config's YAML", e);
    }
    this.ppo = tree.get("ppo");
    this.reward = tree.get("reward");
    this.options = optionsJson(config.ppoOptions());
    this.algo = algoJson(config.algoOptions());
  }

  /** The file of iteration's rollout: iter-NNNNNN.jsonl. */
  public static String fileName(long iteration) {
    return String.format(Locale.ROOT, "iter-%06d.jsonl", iteration);
  }

  @Override
  public void onRollout(long iteration, List<Prompt> prompts, Rollout rollout) {
    onRollout(iteration, prompts, rollout, Map.of());
  }

  @Override
  public void onRollout(long iteration, List<Prompt> prompts, Rollout rollout, Map<String, float[]> rewardTerms) {
    onRollout(iteration, prompts, rollout, rewardTerms, null);
  }

  @Override
  public void onRollout(long iteration, List<Prompt> prompts, Rollout rollout, Map<String, float[]> rewardTerms,
      List<Episode> episodes) {
    Path file = dir.resolve(fileName(iteration));
    Path tmp = dir.resolve("." + file.getFileName() + ".tmp");
    try {
      Files.createDirectories(dir);
      try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
        line(w, header(iteration));
        ObjectNode[] samples = samples(prompts, rollout, rewardTerms);
        if (episodes != null) for (int i = 0; i < samples.length; i++) EpisodeDump.add(samples[i], episodes.get(i));
        for (ObjectNode sample : samples) line(w, sample);
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("rollout dump: writing " + file + ": " + e.getMessage(), e);
    } finally {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException ignored) {
        // The move failed too and its error is the one worth reporting.
      }
    }
  }

  private static void line(BufferedWriter w, JsonNode node) throws IOException {
    w.write(JSON.writeValueAsString(node));
    w.write('\n');
  }

  private ObjectNode header(long iteration) {
    ObjectNode h = JSON.createObjectNode();
    h.put("iteration", iteration);
    h.put("kl_coef", trainer.klCoef());
    h.set("ppo", ppo);
    h.set("reward", reward);
    h.set("ppo_options", options);
    h.set("algo_options", algo);
    return h;
  }

  private static ObjectNode optionsJson(PpoOptions o) {
    ObjectNode node = SNAKE.valueToTree(o);
    node.put("kl_estimator", o.klEstimator().name().toLowerCase(Locale.ROOT));
    return node;
  }

  private static ObjectNode algoJson(AlgoOptions a) {
    ObjectNode node = SNAKE.valueToTree(a);
    node.put("estimator", a.estimator().name().toLowerCase(Locale.ROOT));
    node.put("scale_rewards", a.scaleRewards().name().toLowerCase(Locale.ROOT));
    node.put("kl_in", a.klIn().name().toLowerCase(Locale.ROOT));
    node.put("kl_loss_estimator", a.klLossEstimator().name().toLowerCase(Locale.ROOT));
    node.put("loss_agg", a.lossAgg().name().toLowerCase(Locale.ROOT));
    node.put("importance_sampling", a.importanceSampling().name().toLowerCase(Locale.ROOT));
    return node;
  }

  private ObjectNode[] samples(List<Prompt> prompts, Rollout r, Map<String, float[]> rewardTerms) {
    int b = r.batch();
    int p = r.queryLen();
    int rl = r.responseLen();
    int[] query = r.ints(RolloutField.QUERY_TOKENS);
    byte[] queryMask = r.bytes(RolloutField.QUERY_MASK);
    int[] response = r.ints(RolloutField.RESPONSE_TOKENS);
    int[] lengths = r.ints(RolloutField.RESPONSE_LENGTH);
    byte[] ended = r.bytes(RolloutField.ENDED);
    float[] scores = r.floats(RolloutField.SCORES);
    float[] shaped = r.floats(RolloutField.SCORES_SHAPED);
    float[] groups = r.floats(RolloutField.GROUP_ID);
    RolloutField[] perToken = {RolloutField.OLD_LOGPROBS, RolloutField.REF_LOGPROBS, RolloutField.OLD_VALUES,
        RolloutField.KL, RolloutField.REWARDS, RolloutField.RETURNS, RolloutField.ADVANTAGES,
        RolloutField.ADVANTAGES_WHITENED, RolloutField.LOSS_MASK};
    float[][] values = new float[perToken.length][];
    for (int f = 0; f < perToken.length; f++) values[f] = r.floats(perToken[f]);

    ObjectNode[] out = new ObjectNode[b];
    for (int i = 0; i < b; i++) {
      int len = lengths[i];
      int[] tokens = new int[len];
      System.arraycopy(response, i * rl, tokens, 0, len);
      ObjectNode s = JSON.createObjectNode();
      s.put("prompt", prompts.get(i).text());
      s.put("response", tokenizer.decode(tokens, true));
      s.put("group_id", (long) groups[i]);
      ArrayNode q = s.putArray("query_tokens");
      for (int t = 0; t < p; t++) if (queryMask[i * p + t] != 0) q.add(query[i * p + t]);
      ArrayNode rt = s.putArray("response_tokens");
      for (int t : tokens) rt.add(t);
      s.put("score", scores[i]);
      s.put("score_shaped", shaped[i]);
      ObjectNode byFunction = s.putObject("rewards_by_function");
      for (var e : rewardTerms.entrySet()) byFunction.put(e.getKey(), e.getValue()[i]);
      s.put("ended", ended[i] != 0);
      for (int f = 0; f < perToken.length; f++) {
        ArrayNode a = s.putArray(perToken[f].name().toLowerCase(Locale.ROOT));
        for (int t = 0; t < len; t++) a.add(values[f][i * rl + t]);
      }
      out[i] = s;
    }
    return out;
  }
}
