package org.rlhf4j.cli;

import java.io.IOException;
import java.util.List;
import java.util.Locale;
import org.rlhf4j.config.ConfigLoader;
import org.rlhf4j.config.RmRunConfig;
import org.rlhf4j.config.RunSection;
import org.rlhf4j.rm.RewardModelTrainer;
import org.rlhf4j.rm.RmParts;
import org.rlhf4j.rm.RmResult;
import picocli.CommandLine.Command;

/** Reward-model training: the scorer that PPO's reward.model_path loads. */
@Command(name = "train-rm", mixinStandardHelpOptions = true,
    description = {"Reward-model training with the pairwise Bradley-Terry loss (TRL's RewardTrainer).",
        "Data (data.prompts): JSONL {\"prompt\": ..., \"chosen\": ..., \"rejected\": ...} (completions of the "
            + "prompt) or {\"chosen\": ..., \"rejected\": ...} (full texts). EOS ends every sequence.",
        "The model, with a fresh reward head, is saved in RUN/checkpoints/; PPO's reward.model_path may be RUN."})
final class TrainRmCommand extends TrainingCommand<RmRunConfig> {
  @Override
  ConfigLoader<RmRunConfig> loader() {
    return RmRunConfig.loader();
  }

  @Override
  RunSection runSection(RmRunConfig config) {
    return config.run();
  }

  @Override
  PreparedRun prepare(RmRunConfig config) throws IOException {
    RewardModelTrainer trainer = new RewardModelTrainer(config, RmParts.load(config));
    return new PreparedRun() {
      @Override
      public List<String> run() {
        RmResult r = trainer.run();
        return List.of(
            String.format(Locale.ROOT, "train-rm: %d optimizer steps, %d epochs over %d pairs (%d held out; "
                + "%d skipped and %d truncated for length; %d steps skipped for NaN/Inf)", r.steps(),
                config.rm().epochs(), r.trainPairs(), r.evalPairs(), r.skippedTooLong(), r.truncated(),
                r.skippedSteps()),
            String.format(Locale.ROOT, "train/loss %.4f   train/accuracy %.3f   eval/loss %s   eval/accuracy %s",
                r.trainLoss(), r.trainAccuracy(), number(r.evalLoss()), number(r.evalAccuracy())),
            "model: " + r.checkpoint());
      }

      @Override
      public void close() {
        trainer.close();
      }
    };
  }
}
