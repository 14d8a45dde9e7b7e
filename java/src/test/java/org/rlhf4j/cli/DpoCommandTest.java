package org.rlhf4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.testing.ToyPreferences;

/** dpo trains from the command line; eval --pairs reports TRL's metrics and writes what recomputes them. */
class DpoCommandTest {
  @TempDir Path dir;

  @Test
  void dpoTrainsAndEvalPairsReportsAnImplicitRewardAnyoneCanRecompute() throws IOException {
    Path model = TinyCheckpoints.write(dir.resolve("model"), TinyCheckpoints.gpt2());
    Path prefs = ToyPreferences.write(dir.resolve("prefs.jsonl"), 24, 5);
    Cli train = Cli.run("dpo", "--set", "model.path=" + model, "--set", "data.prompts=" + prefs, "--set",
        "run.out=" + dir.resolve("run"), "--set", "data.eval_fraction=0", "--set", "dpo.max_length=16", "--set",
        "dpo.epochs=2", "--set", "dpo.batch_size=8", "--set", "optim.lr=3e-3", "--set", "dpo.beta=0.5");
    assertEquals(0, train.code(), train.toString());
    assertTrue(train.out().contains("dpo: 6 optimizer steps, 2 epochs over 24 pairs"), train.out());

    Path out = dir.resolve("pairs-out.jsonl");
    Cli eval = Cli.run("eval", "--model", dir.resolve("run").toString(), "--reference", model.toString(), "--pairs",
        prefs.toString(), "--beta", "0.5", "--out", out.toString());
    assertEquals(0, eval.code(), eval.toString());
    double printed = value(eval.out(), "rewards/margins");
    assertTrue(printed > 0, "the trained policy prefers the chosen side: " + eval.out());

    List<String> lines = Files.readAllLines(out);
    assertEquals(24, lines.size());
    double margins = 0;
    ObjectMapper json = new ObjectMapper();
    for (String line : lines) {
      JsonNode o = json.readTree(line);
      assertTrue(o.get("chosen_ids").size() > 0 && o.get("prompt_ids").size() > 0);
      margins += 0.5 * ((o.get("logps_chosen").asDouble() - o.get("ref_logps_chosen").asDouble())
          - (o.get("logps_rejected").asDouble() - o.get("ref_logps_rejected").asDouble()));
    }
    assertEquals(margins / lines.size(), printed, 1e-5 * Math.max(1, Math.abs(printed)));

    Cli noReference = Cli.run("eval", "--model", model.toString(), "--pairs", prefs.toString());
    assertEquals(Main.USAGE, noReference.code());
    assertTrue(noReference.err().contains("--pairs needs --reference"), noReference.err());
  }

  private static double value(String out, String key) {
    Matcher m = Pattern.compile(Pattern.quote(key) + "\\s+(\\S+)").matcher(out);
    assertTrue(m.find(), key + " in " + out);
    return Double.parseDouble(m.group(1));
  }
}
