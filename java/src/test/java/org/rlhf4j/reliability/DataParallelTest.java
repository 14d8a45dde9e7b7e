package org.rlhf4j.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rlhf4j.agent.Scripted;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.RunCheckpoints;
import org.rlhf4j.cli.Main;
import org.rlhf4j.testing.TinyAgent;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.testing.Weights;
import org.rlhf4j.testing.TinyPpo;

/**
 * Data parallelism end to end with real processes (Gloo over 127.0.0.1, one thread each, ports
 * chosen free, every process waited for with a bound): 2 ranks give the weights 1 process
 * gives, for PPO, SFT and reward-model training; a lost rank fails the job quickly and --resume continues; ranks that disagree refuse.
 */
class DataParallelTest {
  private static final Pattern PID = Pattern.compile("launch: rank 1 of 2 started, pid (\\d+)");

  @TempDir Path dir;

  // LoRA r 4 with a separate critic: the critic on the policy's base (r4j_model_share_base) on every rank.
  @ParameterizedTest(name = "preset {0}, critic {1}, LoRA r {2}")
  @CsvSource({"seed, shared, 0", "seed, separate, 0", "standard, shared, 0", "standard, separate, 0",
      "standard, separate, 4"})
  void twoRanksOfEightLearnWhatOneProcessOfSixteenLearns(String preset, String critic, int loraR) throws Exception {
    Path config = TinyPpo.configFile(dir);
    List<String> args = List.of("ppo", "--config", config.toString(), "--preset", preset,
        "--set", "model.critic=" + critic, "--set", "schedule.rollout_batch=16", "--set", "schedule.iterations=3",
        "--set", "ppo.minibatch_size=8", "--set", "ppo.micro_batch_size=2", "--set", "schedule.eval_prompts=0",
        "--set", "model.lora.r=" + loraR);
    TrainingProcess launch = oneProcessThenTwoRanks(args);
    Path a = latest(dir.resolve("one")), b = latest(dir.resolve("two"));
    if (critic.equals("separate")) {
      Weights.assertClose(a.resolve("critic/model.safetensors"), b.resolve("critic/model.safetensors"), 1e-5);
    }
    if (loraR > 0) {
      Weights.assertClose(a.resolve("adapter_model.safetensors"), b.resolve("adapter_model.safetensors"), 1e-5);
      Weights.assertClose(a.resolve("critic/adapter_model.safetensors"), b.resolve("critic/adapter_model.safetensors"), 1e-5);
      assertTrue(launch.output().contains("critic: shares the policy's frozen base weights"), launch.output());
    }
    assertTrue(launch.output().contains("INFO  [rank 0] checkpoint "), "log lines carry the rank:\n" + launch.output());
    assertFalse(launch.output().contains("|-ERROR"), launch.output());
    assertTrue(Files.readString(dir.resolve("two/metrics.jsonl")).contains("\"time/allreduce\""));
  }

  /**
   * ppo.max_tokens_per_micro_batch on 2 ranks: each rank cuts its own share by tokens, so the
   * ranks may run different numbers of micro-batches; the gradients are averaged once per
   * optimizer step, so neither waits on the other, and the job learns what one process learns.
   * AdamW with eps 1 steps by about lr x gradient (no sign-like magnification of rounding).
   */
  @Test
  void twoRanksWithATokenBudgetLearnWhatOneProcessLearns() throws Exception {
    Path config = TinyPpo.configFile(dir);
    List<String> args = List.of("ppo", "--config", config.toString(), "--preset", "grpo",
        "--set", "schedule.rollout_batch=4", "--set", "generation.num_samples=4", "--set", "schedule.iterations=2",
        "--set", "ppo.minibatch_size=16", "--set", "ppo.max_tokens_per_micro_batch=24",
        "--set", "schedule.eval_prompts=0", "--set", "optim.eps=1", "--set", "optim.lr=0.3");
    oneProcessThenTwoRanks(args);
  }

  /**
   * torchrun's contract, under PyTorch's own torchrun (Debian's python3-torch, installed by
   * scripts/test): every rank, rank 0 too, is a client of the agent's TCPStore, and the job learns
   * what one process learns. `-r 1 -t 1` works around 1.13's redirect parsing, which fails on
   * Python 3.11 for the default "0" (IntFlag iteration no longer yields Std.NONE).
   */
  @Test
  void aPpoJobUnderTorchrunLearnsWhatOneProcessLearns() throws Exception {
    Path python = Path.of("/usr/bin/python3");
    Assumptions.assumeTrue(Files.isExecutable(python) && new ProcessBuilder(python.toString(), "-c",
        "import torch.distributed.run").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .start().waitFor() == 0, "no torchrun: /usr/bin/python3 cannot import torch (apt-get install python3-torch)");
    Path config = TinyPpo.configFile(dir);
    List<String> args = List.of("ppo", "--config", config.toString(), "--preset", "standard",
        "--set", "schedule.rollout_batch=16", "--set", "schedule.iterations=2", "--set", "ppo.minibatch_size=8",
        "--set", "ppo.micro_batch_size=4", "--set", "schedule.eval_prompts=0");
    List<String> one = new ArrayList<>(args);
    one.addAll(List.of("--out", dir.resolve("one").toString()));
    StringWriter err = new StringWriter();
    assertEquals(Main.OK, Main.run(one.toArray(String[]::new), new PrintWriter(new StringWriter()),
        new PrintWriter(err)), err.toString());

    List<String> torchrun = List.of(python.toString(), "-m", "torch.distributed.run", "--no_python", "--nnodes", "1",
        "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", Integer.toString(freePort()),
        "--max_restarts", "0", "-r", "1", "-t", "1", "--log_dir", dir.resolve("torchrun-logs").toString());
    List<String> two = new ArrayList<>(args);
    two.addAll(List.of("--out", dir.resolve("two").toString()));
    TrainingProcess job = TrainingProcess.cliUnder(dir.resolve("torchrun.log"), torchrun, two);
    assertEquals(0, job.waitFor(180), job.output());

    assertTrue(Files.readString(dir.resolve("two/metrics.jsonl")).contains("\"time/allreduce\""),
        "the job ran data-parallel:\n" + job.output());
    Path a = latest(dir.resolve("one")), b = latest(dir.resolve("two"));
    assertEquals(a.getFileName(), b.getFileName());
    Weights.assertClose(a.resolve("model.safetensors"), b.resolve("model.safetensors"), 1e-5);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"sft", "train-rm", "dpo"})
  void supervisedTrainingOnTwoRanksLearnsWhatOneProcessLearns(String command) throws Exception {
    Path model = TinyCheckpoints.write(dir.resolve("model"), TinyCheckpoints.gpt2());
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      String w = TinyCheckpoints.WORDS.get(i % TinyCheckpoints.WORDS.size());
      lines.add(command.equals("sft")
          ? "{\"prompt\": \"one " + w + "\", \"completion\": \"two three " + w + "\"}"
          : "{\"prompt\": \"one " + w + "\", \"chosen\": \" two " + w + "\", \"rejected\": \" three\"}");
    }
    Path data = Files.write(dir.resolve("data.jsonl"), lines);
    String section = command.equals("sft") ? "sft" : command.equals("dpo") ? "dpo" : "rm";
    String lengthKey = command.equals("dpo") ? "max_length" : "max_seq_len";
    Path config = Files.writeString(dir.resolve("config.yaml"), """
        model:
          path: %s
        data:
          prompts: %s
          eval_fraction: 0.2
          max_prompt_tokens: 16
        %s:
          epochs: 2
          batch_size: 4
          micro_batch_size: 1
          %s: 32
        """.formatted(model, data, section, lengthKey));
    StringWriter err = new StringWriter();
    assertEquals(Main.OK, Main.run(new String[] {command, "--config", config.toString(), "--out",
        dir.resolve("one").toString()}, new PrintWriter(new StringWriter()), new PrintWriter(err)), err.toString());
    TrainingProcess launch = TrainingProcess.cli(dir.resolve("launch.log"), List.of("launch", "--nproc-per-node", "2",
        "--master-port", Integer.toString(freePort()), command, "--config", config.toString(), "--out",
        dir.resolve("two").toString()));
    assertEquals(0, launch.waitFor(120), launch.output());
    Path a = latest(dir.resolve("one")), b = latest(dir.resolve("two"));
    assertEquals(a.getFileName(), b.getFileName());
    Weights.assertClose(a.resolve("model.safetensors"), b.resolve("model.safetensors"), 1e-5);
  }

  @Test
  void aKilledRankStopsTheJobNamingItAndResumeContinuesOnAnotherWorldSize() throws Exception {
    Path config = TinyPpo.configFile(dir);
    Path run = dir.resolve("run");
    List<String> args = new ArrayList<>(List.of("launch", "--nproc-per-node", "2", "--master-port",
        Integer.toString(freePort()), "ppo", "--config", config.toString(), "--set", "schedule.iterations=500",
        "--set", "schedule.checkpoint_every=1", "--set", "schedule.eval_prompts=0", "--set", "run.dist_timeout=20s"));
    TrainingProcess launch = TrainingProcess.cli(dir.resolve("launch.log"), args);
    long rank1 = 0;
    while (launch.isAlive() && (rank1 == 0 || launch.checkpointsWritten().size() < 2)) {
      Matcher m = PID.matcher(launch.output());
      if (m.find()) rank1 = Long.parseLong(m.group(1));
      assertTrue(launch.secondsSinceStart() < 90, "no checkpoints after 90 s:\n" + launch.output());
      Thread.sleep(50);
    }
    ProcessHandle victim = ProcessHandle.of(rank1).orElseThrow();
    victim.destroyForcibly();  // SIGKILL, mid-iteration
    long killedAt = System.nanoTime();
    int code = launch.waitFor(20 + 10 + 15);
    double seconds = (System.nanoTime() - killedAt) / 1e9;
    String out = launch.output();
    assertNotEquals(0, code, out);
    assertTrue(seconds < 20 + 10, "the job took " + seconds + " s to stop:\n" + out);
    assertTrue(out.contains("lost rank 1"), "rank 0 names the lost rank:\n" + out);
    assertTrue(out.contains("rank 1 (local rank 1, pid " + rank1 + ") exited with code 137"), out);
    assertTrue(out.lines().filter(l -> l.contains("error: ") && l.contains("lost rank 1")).count() == 1,
        "one line from the survivor:\n" + out);

    RunCheckpoints checkpoints = new RunCheckpoints(run, Integer.MAX_VALUE);
    Path newest = checkpoints.latest().orElseThrow();
    for (Path p : checkpoints.complete()) assertTrue(Checkpoint.isComplete(p));
    long done = Long.parseLong(newest.getFileName().toString().replaceAll("\\D", ""));
    // --resume with one process (another world size) continues right after it.
    TrainingProcess resume = TrainingProcess.cli(dir.resolve("resume.log"), List.of("ppo", "--config",
        config.toString(), "--resume", "--set", "schedule.iterations=" + (done + 1), "--set", "schedule.eval_prompts=0"));
    assertEquals(0, resume.waitFor(60), resume.output());
    assertEquals(done, resume.resumedFrom().orElseThrow(), resume.output());
  }

  @Test
  void ranksWithDifferentConfigsRefuseToStartNamingTheKey() throws Exception {
    Path config = TinyPpo.configFile(dir);
    int port = freePort();
    List<TrainingProcess> ranks = new ArrayList<>();
    for (int rank = 0; rank < 2; rank++) {
      ranks.add(TrainingProcess.cli(dir.resolve("rank" + rank + ".log"), List.of("ppo", "--config", config.toString(),
          "--set", "run.seed=" + (rank == 0 ? 3 : 4), "--set", "run.dist_timeout=30s"), env(rank, 2, port)));
    }
    for (TrainingProcess p : ranks) {
      assertEquals(Main.USAGE, p.waitFor(60), p.output());
      assertTrue(p.output().contains("configuration key run.seed differs between ranks"), p.output());
    }
    assertFalse(Files.exists(dir.resolve("run")), "nothing was written");
  }

  @Test
  void anUnreachableMasterIsAClearErrorWithinTheTimeout() throws Exception {
    Path config = TinyPpo.configFile(dir);
    TrainingProcess p = TrainingProcess.cli(dir.resolve("rank1.log"), List.of("ppo", "--config", config.toString(),
        "--set", "run.dist_timeout=3s"), env(1, 2, freePort()));
    assertEquals(Main.FAILURE, p.waitFor(30), p.output());
    assertTrue(p.output().contains("cannot reach the rendezvous store at 127.0.0.1:"), p.output());
    assertTrue(p.secondsSinceStart() < 3 + 15, "took " + p.secondsSinceStart() + " s");
  }

  private static Map<String, String> env(int rank, int world, int port) {
    return Map.of("RANK", Integer.toString(rank), "WORLD_SIZE", Integer.toString(world), "LOCAL_RANK",
        Integer.toString(rank), "LOCAL_WORLD_SIZE", Integer.toString(world), "MASTER_ADDR", "127.0.0.1",
        "MASTER_PORT", Integer.toString(port));
  }

  /**
   * Multi-turn episodes (a scripted environment answering turns, with per-turn rewards) stay on
   * their rank: 2 ranks learn what 1 process does, PPO with the values recorded while sampling.
   */
  @Test
  void aMultiTurnPpoRunOnTwoRanksLearnsWhatOneProcessLearns() throws Exception {
    Path config = TinyAgent.configFile(dir, Scripted.class.getName());
    TrainingProcess launch = oneProcessThenTwoRanks(List.of("ppo", "--config", config.toString(), "--set",
        "schedule.rollout_batch=8", "--set", "ppo.minibatch_size=4", "--set", "ppo.micro_batch_size=2", "--set",
        "schedule.eval_prompts=0"));
    assertFalse(launch.output().contains("|-ERROR"), launch.output());
    assertTrue(Files.readString(dir.resolve("two/metrics.jsonl")).contains("\"agent/turns\""));
  }

  /**
   * Runs the command line args in this process into dir/one, then launched on 2 ranks into
   * dir/two, and checks that their newest checkpoints hold the same weights within 1e-5.
   */
  private TrainingProcess oneProcessThenTwoRanks(List<String> args) throws Exception {
    List<String> one = new ArrayList<>(args);
    one.addAll(List.of("--out", dir.resolve("one").toString()));
    StringWriter err = new StringWriter();
    assertEquals(Main.OK, Main.run(one.toArray(String[]::new), new PrintWriter(new StringWriter()),
        new PrintWriter(err)), err.toString());

    List<String> two = new ArrayList<>(List.of("launch", "--nproc-per-node", "2", "--master-port",
        Integer.toString(freePort())));
    two.addAll(args);
    two.addAll(List.of("--out", dir.resolve("two").toString()));
    TrainingProcess launch = TrainingProcess.cli(dir.resolve("launch.log"), two);
    assertEquals(0, launch.waitFor(120), launch.output());

    Path a = latest(dir.resolve("one")), b = latest(dir.resolve("two"));
    assertEquals(a.getFileName(), b.getFileName());
    Weights.assertClose(a.resolve("model.safetensors"), b.resolve("model.safetensors"), 1e-5);
    return launch;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static Path latest(Path run) {
    return new RunCheckpoints(run, Integer.MAX_VALUE).latest().orElseThrow(() -> new AssertionError("no checkpoint in " + run));
  }
}
