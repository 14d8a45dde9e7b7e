package org.rlhf4j.cli;

import java.io.IOException;
import org.rlhf4j.config.ConfigLoader;
import org.rlhf4j.config.RmRunConfig;
import org.rlhf4j.config.RunSection;
import org.rlhf4j.config.TrainSection;
import org.rlhf4j.rm.RewardModelTrainer;
import org.rlhf4j.rm.RmParts;
import picocli.CommandLine.Command;

/** Reward-model training: the scorer that PPO's reward.model_path loads. */
@Command(name = "train-rm", mixinStandardHelpOptions = true,
    description = {"Reward-model training with the pairwise Bradley-Terry loss (TRL's RewardTrainer).",
        "Data (data.prompts): JSONL {\"prompt\": ..., \"chosen\": ..., \"rejected\": ...} (completions of the "
            + "prompt) or {\"chosen\": ..., \"rejected\": ...} (full texts). EOS ends every sequence.",
        "The model, with a fresh reward head, is saved in RUN/checkpoints/; PPO's reward.model_path may be RUN."})
final class TrainRmCommand extends SupervisedCommand<RmRunConfig> {
  @Override
  ConfigLoader<RmRunConfig> loader() {
    return RmRunConfig.loader();
  }

  @Override
  RunSection runSection(RmRunConfig config) {
    return config.run();
  }

  @Override
  RewardModelTrainer trainer(RmRunConfig config) throws IOException {
    return new RewardModelTrainer(config, RmParts.load(config));
  }

  @Override
  TrainSection schedule(RmRunConfig config) {
    return config.rm();
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
