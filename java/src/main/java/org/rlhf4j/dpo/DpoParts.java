package org.rlhf4j.dpo;

import java.io.IOException;
import java.nio.file.Path;
import org.rlhf4j.checkpoint.HfConfig;
import org.rlhf4j.config.DpoRunConfig;
import org.rlhf4j.data.ChatPrompts;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.Model;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.train.Adapters;
import org.rlhf4j.train.StartingModel;
import org.rlhf4j.train.SupervisedParts;

/**
 * What a DPO run reads and trains: the policy, its data, and the reference (null when every
 * loss is reference-free). {@link #load} builds it from a config; a {@link DpoTrainer} takes
 * ownership and closes both models.
 */
public record DpoParts(Model model, Tokenizer tokenizer, DpoData data, HfConfig modelConfig, Path tokenizerDir,
    Reference reference) implements SupervisedParts<DpoPair> {

  /**
   * Opens model.path (and dpo.reference_path), reads and tokenizes the pairs, loads the policy
   * without heads, adds model.lora, and makes the reference: the LoRA policy's base (adapters
   * off) when the policy has adapters and no dpo.reference_path is given, else a frozen model
   * of its own; with dpo.precompute_ref_logprobs every pair's reference log-probs are computed
   * now and that model freed. Writes nothing.
   */
  public static DpoParts load(DpoRunConfig config) throws IOException {
    var dpo = config.dpo();
    StartingModel start = StartingModel.open(config.model().path(), dpo.maxLength(), "dpo.max_length");
    DpoData data = DpoData.load(config.data(), dpo.maxLength(), config.run().seed(), start.tokenizer(),
        new ChatPrompts(start.dir()));
    DType dtype = config.model().dtype().dtype();
    Model policy = start.load(config.run().device(),
        c -> c.withValueHead(false).withRewardHead(false).withDtype(dtype).withSeed(config.run().seed()));
    Reference reference = null;
    try {
      policy.setMemoryOptions(config.model().memory());
      Adapters.attach(policy, config.model().lora().options(config.run().seed()));
      if (dpo.options().needsReference()) {
        if (policy.lora().isPresent() && dpo.referencePath() == null) {
          reference = Reference.base(policy);
        } else {
          Path refPath = dpo.referencePath() != null ? dpo.referencePath() : config.model().path();
          StartingModel ref = StartingModel.open(refPath, dpo.maxLength(), "dpo.max_length");
          Model frozen = ref.load(config.run().device(),
              c -> c.withValueHead(false).withRewardHead(false).withDtype(dtype));
          frozen.setMemoryOptions(config.model().memory());
          reference = Reference.model(frozen);
        }
        if (dpo.precomputeRefLogprobs()) {
          int pad = start.tokenizer().paddingId();
          reference = Reference.precomputed(reference, java.util.List.of(data.train(), data.eval()),
              dpo.microBatchSize(), dpo.maxTokensPerMicroBatch(), pad);
        }
      }
    } catch (RuntimeException e) {
      if (reference != null) reference.close();
      policy.close();
      throw e;
    }
    return new DpoParts(policy, start.tokenizer(), data, start.config(), start.dir(), reference);
  }


  @Override
  public void close() {
    if (reference != null) reference.close();
    model.close();
  }
}
