package org.rlhf4j.cli;

import java.io.IOException;
import java.util.List;
import java.util.Locale;
import org.rlhf4j.config.ConfigLoader;
import org.rlhf4j.config.RunSection;
import org.rlhf4j.config.SftRunConfig;
import org.rlhf4j.sft.SftParts;
import org.rlhf4j.sft.SftResult;
import org.rlhf4j.sft.SftTrainer;
import picocli.CommandLine.Command;

/** Supervised fine-tuning: the model that PPO starts from. */
@Command(name = "sft", mixinStandardHelpOptions = true,
    description = {"Supervised fine-tuning with the causal LM loss (TRL's SFTTrainer).",
        "Data (data.prompts): JSONL {\"prompt\": ..., \"completion\": ...} (loss on the completion only; "
            + "it is tokenized on its own, so with BPE tokenizers start it with its space), "
            + "or {\"text\": ...} / plain-text lines (loss on every token). EOS ends every example.",
        "The model is saved in RUN/checkpoints/; PPO's model.path may be RUN."})
final class SftCommand extends TrainingCommand<SftRunConfig> {
  @Override
  ConfigLoader<SftRunConfig> loader() {
    return SftRunConfig.loader();
  }

  @Override
  RunSection runSection(SftRunConfig config) {
    return config.run();
  }

  @Override
  PreparedRun prepare(SftRunConfig config) throws IOException {
    SftTrainer trainer = new SftTrainer(config, SftParts.load(config));
    return new PreparedRun() {
      @Override
      public List<String> run() {
        SftResult r = trainer.run();
        return List.of(
            String.format(Locale.ROOT, "sft: %d optimizer steps, %d epochs over %d examples (%d held out; "
                + "%d skipped and %d truncated for length; %d steps skipped for NaN/Inf)", r.steps(),
                config.sft().epochs(), r.trainExamples(), r.evalExamples(), r.skippedTooLong(), r.truncated(),
                r.skippedSteps()),
            String.format(Locale.ROOT, "train/loss %.4f   eval/loss %s", r.trainLoss(), number(r.evalLoss())),
            "model: " + r.checkpoint());
      }

      @Override
      public void close() {
        trainer.close();
      }
    };
  }
}
