package org.rlhf4j.cli;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import org.rlhf4j.engine.Engine;
import org.rlhf4j.engine.GenerateOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** The main job on the built-in task. */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Create a tiny random GPT-2, sample from it, and print the build info.")
final class DemoCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    var out = spec.commandLine().getOut();
    out.println(Engine.buildInfo().json());
    ModelConfig config = ModelConfig.gpt2(64, 64, 32, 2, 4).withValueHead(true).withSeed(1);
    try (Model model = Model.create(config, "cpu");
        Rollout r = model.generate(List.of(new int[] {1, 2, 3}, new int[] {4, 5}),
            GenerateOptions.sampling(8).withValues(true).withSeed(7))) {
      float[] logprobs = r.floats(RolloutField.OLD_LOGPROBS);
      for (int i = 0; i < r.batch(); i++) {
        out.printf("sample %d: tokens %s logprobs %s%n", i, Arrays.toString(r.response(i)),
            Arrays.toString(Arrays.copyOfRange(logprobs, i * r.responseLen(), (i + 1) * r.responseLen())));
      }
    }
    return Main.OK;
  }
}
