package org.rlhf4j.ppo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.checkpoint.RunCheckpoints;
import org.rlhf4j.checkpoint.SafetensorsFile;
import org.rlhf4j.checkpoint.TensorEntry;
import org.rlhf4j.cli.Main;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.engine.TensorInfo;
import org.rlhf4j.engine.TokenBatch;
import org.rlhf4j.testing.GoodWordReward;
import org.rlhf4j.testing.TinyCheckpoints;

/**
 * PPO on a tiny Llama-kind model (grouped-query attention, untied head) with the critic on the
 * policy's trunk or separate: the run completes with finite metrics, its checkpoint loads back
 * and the CLI generates from it. In bf16 on CPU too, with float32 master weights and log-probs.
 */
class LlamaPpoTest {
  /** safetensors stores little-endian. */
  private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  @TempDir Path tmp;

  private PpoRunConfig config(Path out, String... extra) {
    Path model = tmp.resolve("sft");
    if (!Files.exists(model)) TinyCheckpoints.write(model, TinyCheckpoints.llama());
    Path prompts = tmp.resolve("prompts.txt");
    if (!Files.exists(prompts)) TinyCheckpoints.prompts(prompts, 12);
    List<String> set = new ArrayList<>(List.of("model.path=" + model, "data.prompts=" + prompts, "run.out=" + out,
        "run.seed=3", "reward.kind=function", "reward.function=" + GoodWordReward.class.getName(),
        "generation.max_new_tokens=6", "data.max_prompt_tokens=16", "data.eval_fraction=0.2", "schedule.iterations=2",
        "schedule.rollout_batch=8", "schedule.eval_every=2", "schedule.eval_prompts=2", "ppo.minibatch_size=4",
        "ppo.micro_batch_size=2", "optim.lr=3e-3"));
    set.addAll(List.of(extra));
    return PpoRunConfig.loader().load(set);
  }

  private static List<float[]> weights(Model m) {
    List<float[]> out = new ArrayList<>();
    for (TensorInfo t : m.tensors()) out.add(m.readFloats(t.name(), t.numel()));
    return out;
  }

  /** Runs the CLI in-process; returns stdout and stderr after the exit code. */
  private static String cli(int expectedCode, String... args) {
    StringWriter out = new StringWriter(), err = new StringWriter();
    int code = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    String printed = "exit " + code + "\n" + out + err;
    assertEquals(expectedCode, code, printed);
    return printed;
  }

  @ParameterizedTest
  @ValueSource(strings = {"shared", "separate"})
  void trainsSavesLoadsBackAndGenerates(String critic) throws IOException {
    Path out = tmp.resolve("run-" + critic);
    PpoRunConfig cfg = config(out, "model.critic=" + critic);
    List<PpoTrainer.Iteration> its = new ArrayList<>();
    List<float[]> trained;
    try (PpoTrainer t = new PpoTrainer(cfg, PpoSetup.load(cfg))) {
      Model policy = t.parts().policy();
      assertEquals(ModelConfig.Arch.LLAMA, policy.config().arch());
      assertEquals(critic.equals("shared"), policy.config().valueHead());
      assertEquals(critic.equals("separate"), t.parts().critic() != null);
      t.addListener(its::add);
      t.run();
      trained = weights(policy);
    }
    assertEquals(List.of(1L, 2L), its.stream().map(PpoTrainer.Iteration::iteration).toList());
    for (PpoTrainer.Iteration it : its) {
      for (Map.Entry<String, Double> m : it.metrics().entrySet()) {
        assertTrue(Double.isFinite(m.getValue()), "iteration " + it.iteration() + ": " + m.getKey() + " = " + m.getValue());
      }
      assertEquals(0, it.metrics().get("nonfinite/skipped_steps"));
    }
    assertTrue(its.getLast().metrics().containsKey("eval/scores"), "the last iteration evaluated");

    Path saved = new RunCheckpoints(out, Integer.MAX_VALUE).latest().orElseThrow();
    Checkpoint checkpoint = Checkpoint.open(saved);
    assertEquals("llama", checkpoint.config().modelType());
    try (Model policy = checkpoint.loadModel("cpu", c -> c, LoadOptions.strict()).model()) {
      List<float[]> loaded = weights(policy);
      for (int i = 0; i < trained.size(); i++) assertTrue(Arrays.equals(trained.get(i), loaded.get(i)), "tensor " + i);
    }
    if (critic.equals("separate")) {
      try (Model c = checkpoint.subModel("critic").loadModel("cpu", x -> x, LoadOptions.strict()).model()) {
        assertTrue(c.config().valueHead());
        assertEquals(ModelConfig.Arch.LLAMA, c.config().arch());
      }
    }

    // The run directory stands for its newest checkpoint.
    Path generations = tmp.resolve("gen-" + critic + ".jsonl");
    String printed = cli(Main.OK, "generate", "--model", out.toString(), "--prompts", tmp.resolve("prompts.txt").toString(),
        "--max-new-tokens", "5", "--seed", "1", "--out", generations.toString());
    assertTrue(printed.contains("wrote 12 generations"), printed);
    ObjectMapper json = new ObjectMapper();
    for (String line : Files.readAllLines(generations)) {
      JsonNode g = json.readTree(line);
      int n = g.get("response_tokens").size();
      assertTrue(n >= 1 && n <= 5, line);
      assertEquals(n, g.get("logprobs").size(), line);
      assertEquals(critic.equals("shared"), g.has("values"), "values come from a value head on the policy: " + line);
    }
  }

  /** The float nearest to x in bfloat16 (ties to even), as torch rounds. */
  private static float bf16(float x) {
    int bits = Float.floatToRawIntBits(x);
    return Float.intBitsToFloat(((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) << 16);
  }

  /** A tensor of a safetensors file (F32 or BF16) as floats. */
  private static float[] floats(SafetensorsFile file, String name) {
    TensorEntry e = file.find(name).orElseThrow(() -> new AssertionError(file.path() + ": no " + name));
    MemorySegment data = file.data(e);
    float[] out = new float[Math.toIntExact(e.info().numel())];
    for (int i = 0; i < out.length; i++) {
      out[i] = switch (e.info().dtype()) {
        case F32 -> data.getAtIndex(F32, i);
        case BF16 -> Float.intBitsToFloat(data.getAtIndex(BF16, i) << 16);
        default -> throw new AssertionError(name + " is " + e.info().dtype());
      };
    }
    return out;
  }

  @Test
  void bf16TrainsOnCpuWithFloat32MasterWeightsAndFloat32Logprobs() throws IOException {
    Path out = tmp.resolve("run-bf16");
    PpoRunConfig cfg = config(out, "model.dtype=bf16");
    List<PpoTrainer.Iteration> its = new ArrayList<>();
    try (PpoTrainer t = new PpoTrainer(cfg, PpoSetup.load(cfg))) {
      Model policy = t.parts().policy();
      for (Model m : List.of(policy, t.parts().reference())) {
        for (TensorInfo info : m.tensors()) assertEquals(DType.BF16, info.dtype(), info.name());
      }
      // A bf16 log-softmax would give bf16 numbers; in fp32 (the logits widened first) they are not.
      float[] logprobs = policy.score(TokenBatch.rightPadded(List.of(new int[] {1, 5, 9, 13, 2, 7, 4}), 0), 1.0,
          false, false).logprobs();
      long finer = IntStream.range(1, logprobs.length).filter(i -> logprobs[i] != bf16(logprobs[i])).count();
      assertTrue(finer > 0, "log-probs are computed in float32: " + Arrays.toString(logprobs));

      List<float[]> before = weights(policy);
      t.addListener(its::add);
      t.run();
      List<float[]> after = weights(policy);
      int moved = 0;
      for (int i = 0; i < after.size(); i++) {
        for (float w : after.get(i)) assertTrue(Float.isFinite(w), "tensor " + i);
        if (!Arrays.equals(before.get(i), after.get(i))) moved++;
      }
      assertTrue(moved >= after.size() / 2, moved + " of " + after.size() + " tensors moved");
    }
    assertEquals(2, its.size());
    for (PpoTrainer.Iteration it : its) {
      for (Map.Entry<String, Double> m : it.metrics().entrySet()) {
        assertTrue(Double.isFinite(m.getValue()), "iteration " + it.iteration() + ": " + m.getKey() + " = " + m.getValue());
      }
    }

    // The checkpoint holds bf16 weights, each the rounding of its float32 master, which keeps finer steps.
    Path saved = new RunCheckpoints(out, Integer.MAX_VALUE).latest().orElseThrow();
    assertEquals(DType.BF16, Checkpoint.open(saved).config().model().dtype());
    long finerMasters = 0;
    try (SafetensorsFile model = SafetensorsFile.open(saved.resolve("model.safetensors"));
        SafetensorsFile optimizer = SafetensorsFile.open(saved.resolve("optimizer.safetensors"))) {
      for (TensorEntry e : model.tensors()) {
        assertEquals(DType.BF16, e.info().dtype(), e.name());
        String masterName = "policy." + e.name() + ".master";
        assertEquals(DType.F32, optimizer.find(masterName).orElseThrow().info().dtype(), masterName);
        float[] weight = floats(model, e.name()), master = floats(optimizer, masterName);
        for (int i = 0; i < weight.length; i++) {
          assertEquals(bf16(master[i]), weight[i], e.name() + "[" + i + "]");
          if (master[i] != weight[i]) finerMasters++;
        }
      }
    }
    assertTrue(finerMasters > 0, "the float32 masters hold what bf16 cannot");

    // generate keeps the checkpoint's dtype: bf16 on CPU.
    Path generations = tmp.resolve("gen-bf16.jsonl");
    String printed = cli(Main.OK, "generate", "--model", out.toString(), "--prompts", tmp.resolve("prompts.txt").toString(),
        "--max-new-tokens", "4", "--out", generations.toString());
    assertTrue(printed.contains("wrote 12 generations"), printed);
  }
}
