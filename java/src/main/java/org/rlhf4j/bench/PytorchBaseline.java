package org.rlhf4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The same PPO iteration in plain PyTorch eager mode (bench/pytorch_ppo.py, float32), run as a
 * child process on the bench's shapes and thread count: the yardstick of {@code --vs-pytorch}.
 * The script and interpreter come from the system properties rlhf4j.pytorchBench and
 * rlhf4j.python (scripts/bench sets both).
 */
final class PytorchBaseline {
  private PytorchBaseline() {}

  static Map<String, Object> run(PpoBench b, int threads) {
    return exec(command(b, threads));
  }

  /**
   * The GRPO workload (bench/pytorch_ppo.py --workload grpo): the same prompts x samples, each
   * row stopped at its forced length, in a static batch.
   */
  static Map<String, Object> runGrpo(PpoBench b, int threads, int[] lengths) {
    List<String> cmd = command(b, threads);
    cmd.addAll(List.of("--workload", "grpo", "--samples", "" + b.samples, "--lengths",
        String.join(",", java.util.Arrays.stream(lengths).mapToObj(Integer::toString).toList())));
    return exec(cmd);
  }

  private static List<String> command(PpoBench b, int threads) {
    Path script = Path.of(System.getProperty("rlhf4j.pytorchBench", "bench/pytorch_ppo.py"));
    if (!Files.isRegularFile(script)) {
      throw new IllegalStateException("--vs-pytorch: no " + script + " (run it through scripts/bench)");
    }
    return new ArrayList<>(List.of(System.getProperty("rlhf4j.python", "python3"), script.toString(),
        "--layers", "" + b.layers, "--d-model", "" + b.dModel, "--heads", "" + b.heads, "--vocab", "" + b.vocab,
        "--batch", "" + b.batch, "--prompt-len", "" + b.promptLen, "--new-tokens", "" + b.newTokens,
        "--minibatch", "" + b.minibatch, "--epochs", "" + b.epochs, "--repeats", "" + b.repeats,
        "--threads", "" + threads, "--dtype", "f32"));
  }

  private static Map<String, Object> exec(List<String> cmd) {
    String script = cmd.get(1);
    try {
      Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(1, TimeUnit.HOURS)) {
        p.destroyForcibly();
        throw new IllegalStateException("--vs-pytorch: " + script + " ran for an hour; stopped");
      }
      String last = PpoBench.lastJsonLine(out).orElse("");
      if (p.exitValue() != 0 || last.isEmpty()) {
        throw new IllegalStateException("--vs-pytorch: " + String.join(" ", cmd) + " failed (status " + p.exitValue() + ")");
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> result = new ObjectMapper().readValue(last, Map.class);
      return result;
    } catch (IOException e) {
      throw new IllegalStateException("--vs-pytorch: cannot run " + cmd.get(0) + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("--vs-pytorch: interrupted", e);
    }
  }
}
