package org.rlhf4j.demo;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.checkpoint.ModelDirs;

/**
 * The demo's CI run (--quick): PPO must raise the hidden gold reward on held-out prompts while
 * the responses stay well-formed. The thresholds fail a broken PPO (checked by hand, on this
 * scale): with the advantage's sign flipped the positive share fell from 0.43 to 0.34 and
 * validity to 0; with the KL penalty dropped validity collapsed from 0.64 to 0.07 (the policy
 * games the reward model with degenerate text). A working PPO went 0.43 -> 0.88 positive,
 * 0.64 -> 0.90 valid then, and 0.42 -> 0.82, 0.66 -> 0.86 with the faster decoding kernels
 * (whose float rounding changes some draws).
 */
class DemoQuickTest {
  @TempDir Path tmp;

  @Test
  void ppoRaisesTheGoldRewardAndKeepsResponsesValid() throws IOException {
    Path out = tmp.resolve("demo");
    DemoSummary s = new Demo(new Demo.Options(out, DemoScale.quick(), "standard", 1)).run();
    String table = "before " + s.before() + "\nafter " + s.after();
    assertTrue(s.rmAccuracy() > 0.75, "reward model accuracy " + s.rmAccuracy());
    assertTrue(s.positiveAfter() >= s.positiveBefore() + 0.25, "positive share did not rise enough:\n" + table);
    assertTrue(s.goldAfter() >= s.goldBefore() + 0.4, "gold reward did not rise enough:\n" + table);
    double validityBefore = s.before().get("validity rate");
    assertTrue(s.validityAfter() >= validityBefore - 0.05, "validity fell:\n" + table);
    double kl = s.after().get("KL to reference");
    assertTrue(kl > 0 && Double.isFinite(kl), "KL to reference " + kl);
    for (String stage : new String[] {"sft", "rm", "ppo"}) {
      assertTrue(Files.isRegularFile(ModelDirs.resolve(out.resolve(stage)).resolve("model.safetensors")), stage);
    }
    assertTrue(Files.readString(out.resolve("report.html")).contains("<svg"));
    assertTrue(Files.isRegularFile(out.resolve("summary.json")));
  }
}
