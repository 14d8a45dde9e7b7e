package org.rlhf4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.chat.ChatTemplate;
import org.rlhf4j.checkpoint.ModelDirs;
import org.rlhf4j.config.Precision;

/**
 * The demo's CI run (--quick), PPO, GRPO and DPO from the same SFT policy (and reward model, or
 * its pairs for DPO), every stage on conversational data through the demo's chat template: each must
 * raise the hidden gold reward on held-out prompts while the responses stay well-formed, and the
 * report must set them side by side. The thresholds fail a broken run (checked by hand, on this
 * scale): PPO with the advantage's sign flipped fell from 0.43 to 0.34 positive and validity to
 * 0; with the KL penalty dropped validity collapsed from 0.64 to 0.07 (the policy games the
 * reward model with degenerate text). GRPO with its advantage's sign flipped fell from 0.414 to
 * 0.094 positive, gold 0.048 to -0.714; working, it went 0.414 -> 0.836 positive, 0.656 -> 0.805
 * valid (4 epochs of 2 minibatches per iteration; with the preset's single epoch it reached only
 * 0.551).
 */
class DemoQuickTest {
  @TempDir Path tmp;

  @Test
  void ppoGrpoAndDpoRaiseTheGoldRewardAndKeepResponsesValid() throws IOException {
    Path out = tmp.resolve("demo");
    DemoSummary s = new Demo(new Demo.Options(out, DemoScale.quick(), "standard", 1, List.of("ppo", "grpo", "dpo"),
        "model", Precision.F32)).run();
    assertTrue(s.rmAccuracy() > 0.75, "reward model accuracy " + s.rmAccuracy());
    for (String algo : List.of("ppo", "grpo")) {
      DemoSummary.Run run = s.run(algo);
      String table = algo + ": before " + s.before() + "\nafter " + run.after();
      assertTrue(run.positiveAfter() >= s.positiveBefore() + 0.25, "positive share did not rise enough:\n" + table);
      assertTrue(run.goldAfter() >= s.goldBefore() + 0.4, "gold reward did not rise enough:\n" + table);
      assertTrue(run.validityAfter() >= s.validityBefore() - 0.05, "validity fell:\n" + table);
      assertTrue(run.klAfter() > 0 && Double.isFinite(run.klAfter()), algo + ": KL to reference " + run.klAfter());
      assertTrue(run.seconds() > 0, algo + ": RL seconds " + run.seconds());
      assertTrue(run.peakRssGb() > 0, algo + ": peak RSS " + run.peakRssGb());
    }
    // DPO (issue #19's bar): gold up by at least 0.3, validity at most 0.05 below SFT's.
    DemoSummary.Run dpo = s.run("dpo");
    String dpoTable = "dpo: before " + s.before() + "\nafter " + dpo.after();
    assertTrue(dpo.goldAfter() >= s.goldBefore() + 0.3, "gold reward did not rise enough:\n" + dpoTable);
    assertTrue(dpo.validityAfter() >= s.validityBefore() - 0.05, "validity fell:\n" + dpoTable);
    assertEquals("standard", s.run("ppo").preset());
    assertEquals("grpo", s.run("grpo").preset());
    for (String stage : new String[] {"sft", "rm", "ppo", "grpo", "dpo"}) {
      assertTrue(Files.isRegularFile(ModelDirs.resolve(out.resolve(stage)).resolve("model.safetensors")), stage);
    }
    // The conversational path end to end: TRL's conversational rows, the demo's chat template in every
    // checkpoint, and judges that read the openings, not their renderings.
    assertTrue(Files.readAllLines(out.resolve("data/sft.jsonl")).getFirst().startsWith("{\"messages\":[{"));
    assertTrue(Files.readAllLines(out.resolve("data/prompts.jsonl")).getFirst().startsWith("{\"prompt\":[{"));
    assertTrue(Files.readAllLines(out.resolve("data/pairs.jsonl")).getFirst()
        .matches("\\{\"prompt\":\\[\\{.*\"chosen\":\\[\\{.*\"rejected\":\\[\\{.*"));
    List<Map<String, Object>> opening = List.of(DemoChatTemplate.message("user", "the pasta at this place was"));
    for (String stage : new String[] {"sft", "rm", "ppo", "grpo", "dpo"}) {
      ChatTemplate template = ChatTemplate.require(ModelDirs.resolve(out.resolve(stage)));
      assertEquals(DemoChatTemplate.prompt("the pasta at this place was"), template.render(opening, true, null, Map.of()),
          stage);
    }
    for (DemoSummary.Sample sample : s.run("ppo").samplesAfter()) {
      assertFalse(sample.prompt().contains("<"), "the judges read the opening: " + sample);
    }
    String report = Files.readString(out.resolve("report.html"));
    assertTrue(report.contains("<svg"));
    assertTrue(report.contains("peak RSS GB") && report.contains("grpo policy"), "the side-by-side table");
    assertTrue(Files.isRegularFile(out.resolve("summary.json")));
  }
}
