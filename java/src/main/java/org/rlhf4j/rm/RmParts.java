package org.rlhf4j.rm;

import java.io.IOException;
import java.nio.file.Path;
import org.rlhf4j.checkpoint.HfConfig;
import org.rlhf4j.config.RmRunConfig;
import org.rlhf4j.data.ChatPrompts;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.Model;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.train.Adapters;
import org.rlhf4j.train.StartingModel;
import org.rlhf4j.train.SupervisedParts;

/**
 * What a reward-model run reads and trains. {@link #load} builds it from a config; a {@link
 * RewardModelTrainer} takes ownership and closes the model.
 *
 * @param model the model with a reward head
 * @param tokenizer its tokenizer
 * @param data the tokenized training and held-out pairs
 * @param modelConfig the starting model's config.json, written (with the reward head) beside the
 *     trained weights
 * @param tokenizerDir the directory whose tokenizer files the checkpoint copies, or null
 */
public record RmParts(Model model, Tokenizer tokenizer, PreferenceData data, HfConfig modelConfig, Path tokenizerDir)
    implements SupervisedParts<PreferencePair> {

  public RmParts {
    if (model == null || tokenizer == null || data == null || modelConfig == null) {
      throw new IllegalArgumentException("train-rm: model, tokenizer, data and modelConfig are required");
    }
    if (!model.config().rewardHead()) {
      throw new IllegalArgumentException("train-rm: the model has no reward head");
    }
  }

  /**
   * Opens model.path, reads and tokenizes the pairs, then loads the model with a reward head
   * (fresh, seeded by run.seed, unless the checkpoint has one) and no value head. Writes
   * nothing, so a bad path or file fails before the run directory is touched.
   */
  public static RmParts load(RmRunConfig config) throws IOException {
    StartingModel start = StartingModel.open(config.model().path(), config.rm().maxSeqLen(), "rm.max_seq_len");
    PreferenceData data = PreferenceData.load(config.data(), config.rm().maxSeqLen(), config.run().seed(),
        start.tokenizer(), new ChatPrompts(start.dir()));
    DType dtype = config.model().dtype().dtype();
    Model model = start.load(config.run().device(),
        c -> c.withRewardHead(true).withValueHead(false).withDtype(dtype).withSeed(config.run().seed()));
    model.setMemoryOptions(config.model().memory());
    Adapters.attach(model, config.model().lora().options(config.run().seed()));
    return new RmParts(model, start.tokenizer(), data, start.config(), start.dir());
  }
}
