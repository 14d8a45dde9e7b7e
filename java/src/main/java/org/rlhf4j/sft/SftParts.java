package org.rlhf4j.sft;

import java.io.IOException;
import java.nio.file.Path;
import org.rlhf4j.checkpoint.HfConfig;
import org.rlhf4j.config.SftRunConfig;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.Model;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.train.Adapters;
import org.rlhf4j.train.SftExample;
import org.rlhf4j.train.StartingModel;
import org.rlhf4j.train.SupervisedParts;

/**
 * What an SFT run reads and trains. {@link #load} builds it from a config; a {@link SftTrainer}
 * takes ownership and closes the model.
 *
 * @param model the model to fine-tune (no value or reward head)
 * @param tokenizer its tokenizer
 * @param data the tokenized training and held-out examples
 * @param modelConfig the starting model's config.json, written beside the trained weights
 * @param tokenizerDir the directory whose tokenizer files the checkpoint copies, or null
 */
public record SftParts(Model model, Tokenizer tokenizer, SftData data, HfConfig modelConfig, Path tokenizerDir)
    implements SupervisedParts<SftExample> {

  public SftParts {
    if (model == null || tokenizer == null || data == null || modelConfig == null) {
      throw new IllegalArgumentException("sft: model, tokenizer, data and modelConfig are required");
    }
  }

  /**
   * Opens model.path, reads and tokenizes the data, then loads the model (dropping any value or
   * reward head). Writes nothing, so a bad path or file fails before the run directory is
   * touched.
   */
  public static SftParts load(SftRunConfig config) throws IOException {
    StartingModel start = StartingModel.open(config.model().path(), config.sft().maxSeqLen(), "sft.max_seq_len");
    SftData data = SftData.load(config.data(), config.sft().maxSeqLen(), config.run().seed(), start.tokenizer(),
        start.dir(), config.sft().assistantOnlyLoss());
    DType dtype = config.model().dtype().dtype();
    Model model = start.load(config.run().device(),
        c -> c.withValueHead(false).withRewardHead(false).withDtype(dtype).withSeed(config.run().seed()));
    model.setMemoryOptions(config.model().memory());
    Adapters.attach(model, config.model().lora().options(config.run().seed()));
    return new SftParts(model, start.tokenizer(), data, start.config(), start.dir());
  }
}
