package org.rlhf4j.cli;

import java.io.IOException;
import java.util.List;
import java.util.Locale;
import org.rlhf4j.config.CommandConfig;
import org.rlhf4j.config.TrainSection;
import org.rlhf4j.train.SupervisedData;
import org.rlhf4j.train.SupervisedTrainer;
import org.rlhf4j.train.SupervisedTrainer.Outcome;

/**
 * A supervised training command (sft, train-rm): builds its trainer, trains, and prints what
 * it did in three lines: steps and data, losses (and accuracies), where the model is.
 *
 * @param <C> the command's configuration record
 */
abstract class SupervisedCommand<C extends Record & CommandConfig> extends TrainingCommand<C> {
  /** The command's trainer over the data and model its config names; writes nothing. */
  abstract SupervisedTrainer<?, C, ?> trainer(C config) throws IOException;

  /** The config's schedule section (sft, rm). */
  abstract TrainSection schedule(C config);

  /** What one example is called in the summary: examples, pairs. */
  abstract String examples();

  /** Whether the objective measures an accuracy. */
  abstract boolean accuracy();

  @Override
  final PreparedRun prepare(C config) throws IOException {
    SupervisedTrainer<?, C, ?> trainer = trainer(config);
    return new PreparedRun() {
      @Override
      public List<String> run() {
        Outcome o = trainer.train();
        return summary(config, o, trainer.parts().data());
      }

      @Override
      public void close() {
        trainer.close();
      }
    };
  }

  private List<String> summary(C config, Outcome o, SupervisedData<?> d) {
    String losses = accuracy()
        ? String.format(Locale.ROOT, "train/loss %.4f   train/accuracy %.3f   eval/loss %s   eval/accuracy %s",
            o.trainLoss(), o.trainAccuracy(), number(o.evalLoss()), number(o.evalAccuracy()))
        : String.format(Locale.ROOT, "train/loss %.4f   eval/loss %s", o.trainLoss(), number(o.evalLoss()));
    return List.of(
        String.format(Locale.ROOT, "%s: %d optimizer steps, %d epochs over %d %s (%d held out; "
            + "%d skipped and %d truncated for length; %d steps skipped for NaN/Inf)", spec().name(), o.steps(),
            schedule(config).epochs(), d.train().size(), examples(), d.eval().size(), d.skippedTooLong(),
            d.truncated(), o.skippedSteps()),
        losses,
        "model: " + o.checkpoint());
  }
}
