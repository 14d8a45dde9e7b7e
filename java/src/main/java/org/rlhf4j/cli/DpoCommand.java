package org.rlhf4j.cli;

import java.io.IOException;
import org.rlhf4j.config.ConfigLoader;
import org.rlhf4j.config.DpoRunConfig;
import org.rlhf4j.config.RunSection;
import org.rlhf4j.config.TrainSection;
import org.rlhf4j.dpo.DpoParts;
import org.rlhf4j.dpo.DpoTrainer;
import picocli.CommandLine.Command;

/** Offline preference optimisation: the policy learns from pairs directly, no reward model. */
@Command(name = "dpo", mixinStandardHelpOptions = true,
    description = {"Direct preference optimisation and its family (TRL's DPOTrainer): sigmoid (DPO), robust, ipo, "
        + "hinge, simpo, weighted lists of them, RPO.",
        "Data (data.prompts): JSONL {\"prompt\": ..., \"chosen\": ..., \"rejected\": ...}, the train-rm format. "
            + "Log-probs are summed over each completion (EOS appended).",
        "The reference is model.path frozen (or dpo.reference_path; with model.lora the base, adapters off). "
            + "The policy is saved in RUN/checkpoints/."})
final class DpoCommand extends SupervisedCommand<DpoRunConfig> {
  @Override
  ConfigLoader<DpoRunConfig> loader() {
    return DpoRunConfig.loader();
  }

  @Override
  RunSection runSection(DpoRunConfig config) {
    return config.run();
  }

  @Override
  DpoTrainer trainer(DpoRunConfig config) throws IOException {
    return new DpoTrainer(config, DpoParts.load(config));
  }

  @Override
  TrainSection schedule(DpoRunConfig config) {
    return config.dpo().schedule();
  }

  @Override
  String examples() {
    return "pairs";
  }

  @Override
  boolean accuracy() {
    return true;
  }
}
