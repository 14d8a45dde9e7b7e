package org.rlhf4j.cli;

import java.io.IOException;
import org.rlhf4j.config.ConfigLoader;
import org.rlhf4j.config.RunSection;
import org.rlhf4j.config.SftRunConfig;
import org.rlhf4j.config.TrainSection;
import org.rlhf4j.sft.SftParts;
import org.rlhf4j.sft.SftTrainer;
import picocli.CommandLine.Command;

/** Supervised fine-tuning: the model that PPO starts from. */
@Command(name = "sft", mixinStandardHelpOptions = true,
    description = {"Supervised fine-tuning with the causal LM loss (TRL's SFTTrainer).",
        "Data (data.prompts): JSONL {\"prompt\": ..., \"completion\": ...} (loss on the completion only; "
            + "it is tokenized on its own, so with BPE tokenizers start it with its space), "
            + "or {\"text\": ...} / plain-text lines (loss on every token). EOS ends every example.",
        "The model is saved in RUN/checkpoints/; PPO's model.path may be RUN."})
final class SftCommand extends SupervisedCommand<SftRunConfig> {
  @Override
  ConfigLoader<SftRunConfig> loader() {
    return SftRunConfig.loader();
  }

  @Override
  RunSection runSection(SftRunConfig config) {
    return config.run();
  }

  @Override
  SftTrainer trainer(SftRunConfig config) throws IOException {
    return new SftTrainer(config, SftParts.load(config));
  }

  @Override
  TrainSection schedule(SftRunConfig config) {
    return config.sft();
  }

  @Override
  String examples() {
    return "examples";
  }

  @Override
  boolean accuracy() {
    return false;
  }
}
