package org.rlhf4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * --rounds N --compare OPTS ...: every variant runs once a round in a process of its own with
 * the bench's other options, and the summary's ratios are each round's own (a round's variant
 * over the first variant of that round), not a ratio of medians. Timings are never asserted.
 */
class InterleavedRoundsTest {
  private static final String[] TINY = {"--layers", "1", "--d-model", "32", "--heads", "2", "--vocab", "64",
      "--batch", "4", "--prompt-len", "8", "--new-tokens", "8", "--minibatch", "2", "--epochs", "1",
      "--gemm-size", "128"};

  @Test
  void eachVariantRunsEveryRoundWithTheOtherOptionsAndIsComparedRoundByRound() throws Exception {
    JsonNode s = bench(4, "--rounds", "2", "--compare", "--dtype f32", "--compare=--dtype bf16");
    assertEquals(2, s.get("rounds").asInt());
    assertEquals(String.join(" ", TINY), s.get("base").asText(), "the variants' own options are not the base's");
    JsonNode f32 = s.get("variants").get(0);
    JsonNode bf16 = s.get("variants").get(1);
    assertEquals("f32", f32.get("dtype").asText(), "the child ran the first variant's options");
    assertEquals("bf16", bf16.get("dtype").asText(), "the child ran the second variant's options");
    for (int r = 0; r < 2; r++) {
      assertEquals(1.0, f32.get("iteration_vs_first").get(r).asDouble());
      double ratio = bf16.get("iteration_seconds").get(r).asDouble() / f32.get("iteration_seconds").get(r).asDouble();
      assertEquals(ratio, bf16.get("iteration_vs_first").get(r).asDouble(), 1e-12, "round " + r);
      assertTrue(bf16.get("peak_rss_gb").get(r).asDouble() > 0);
    }
    double meanOfTwo = (bf16.get("iteration_vs_first").get(0).asDouble()
        + bf16.get("iteration_vs_first").get(1).asDouble()) / 2;
    assertEquals(meanOfTwo, bf16.get("iteration_vs_first_median").asDouble(), 1e-12);
    assertTrue(bf16.get("phases_median").get("learn").asDouble() > 0);
    assertTrue(bf16.get("rollout_fraction_of_read_bandwidth_median").asDouble() > 0, "the ppo workload measures it");
    assertTrue(!bf16.has("iteration_vs_pytorch"), "without --vs-pytorch");
  }

  /** --rounds without --compare: the options given, run that many times, each in its own process. */
  @Test
  void roundsAloneRunTheOptionsGivenThatManyTimes() throws Exception {
    JsonNode s = bench(2, "--dtype", "bf16", "--rounds", "2");
    assertEquals(String.join(" ", TINY) + " --dtype bf16", s.get("base").asText());
    assertEquals(1, s.get("variants").size());
    JsonNode only = s.get("variants").get(0);
    assertEquals("bf16", only.get("dtype").asText());
    assertEquals(2, only.get("iteration_seconds").size());
  }

  /** The bench in this process with TINY's options and these; its JSON summary, after the given number of runs. */
  private static JsonNode bench(int runs, String... more) throws Exception {
    List<String> args = new java.util.ArrayList<>(List.of(TINY));
    args.addAll(List.of(more));
    String text = InProcessBench.output(args.toArray(String[]::new));
    assertEquals(runs, text.lines().filter(l -> l.startsWith("round ")).count(), text);
    return InProcessBench.lastJson(text);
  }

  /** --native variants: each child loads the build its variant names, and says so in its JSON line. */
  @Test
  void nativeVariantsTimeTheBuildsTheyName(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path built = org.rlhf4j.engine.NativeLibrary.path().toAbsolutePath();
    java.nio.file.Path copy = java.nio.file.Files.copy(built, dir.resolve("librlhf4j.so"));
    JsonNode s = bench(2, "--rounds", "1", "--compare=--native " + built, "--compare=--native " + copy);
    assertEquals(built.toString(), s.get("variants").get(0).get("library").asText());
    assertEquals(copy.toString(), s.get("variants").get(1).get("library").asText());
  }

  /** A process that already holds a library refuses --native naming another, and keeps its own. */
  @Test
  void nativeInAProcessThatHoldsAnotherLibraryIsRefused(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    java.nio.file.Path built = org.rlhf4j.engine.NativeLibrary.path();
    java.nio.file.Path copy = java.nio.file.Files.copy(built, dir.resolve("librlhf4j.so"));
    String before = System.getProperty(org.rlhf4j.engine.NativeLibrary.PROPERTY);
    java.io.StringWriter err = new java.io.StringWriter();
    CommandLine cli = PpoBench.cli();
    cli.setErr(new java.io.PrintWriter(err));
    cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
      cmd.getErr().println("bench: " + e.getMessage());
      return 2;
    });
    assertEquals(2, cli.execute("--native", copy.toString(), "--layers", "1"));
    assertTrue(err.toString().contains("already loaded " + built.toAbsolutePath().normalize()), err.toString());
    assertEquals(before, System.getProperty(org.rlhf4j.engine.NativeLibrary.PROPERTY));
  }

  /** Ratios are taken within a round: a slow round slows both variants and leaves their ratio. */
  @Test
  void ratiosAreTakenWithinEachRound() {
    InterleavedRounds rounds = new InterleavedRounds(List.of(), List.of("", "--dtype bf16"), 3);
    List<InterleavedRounds.Run> a = List.of(run(10, 100), run(20, 100), run(10, 100));
    List<InterleavedRounds.Run> b = List.of(run(9, 125), run(18, 125), run(11, 100));
    Map<String, Object> s = rounds.summary(List.of(a, b));
    @SuppressWarnings("unchecked")
    Map<String, Object> second = ((List<Map<String, Object>>) s.get("variants")).get(1);
    double[] ratio = (double[]) second.get("iteration_vs_first");
    assertEquals(0.9, ratio[0], 1e-12);
    assertEquals(0.9, ratio[1], 1e-12);
    assertEquals(1.1, ratio[2], 1e-12);
    assertEquals(0.9, (double) second.get("iteration_vs_first_median"), 1e-12);
    assertEquals(11.0, (double) second.get("iteration_median"), 1e-12);
    assertEquals(1.0, ((double[]) second.get("generated_tokens_per_s_vs_first"))[2], 1e-12);
    assertEquals(1.25, (double) second.get("generated_tokens_per_s_vs_first_median"), 1e-12);
    assertEquals(0.11, (double) second.get("rollout_fraction_of_read_bandwidth_median"), 1e-12);
    assertEquals(0.75, (double) second.get("learn_fraction_of_gemm_median"), 1e-12);
    assertTrue(!second.containsKey("iteration_vs_pytorch_median"), "no run compared itself with PyTorch");
  }

  /**
   * The optimizer steps' seconds are a part of learn: their median is reported beside the phases
   * and never added to the iteration; a run that did not time them leaves the median out.
   */
  @Test
  void theOptimizersSecondsAreAPartOfLearnNotAPhase() throws Exception {
    var json = new com.fasterxml.jackson.databind.ObjectMapper();
    InterleavedRounds.Run a = InterleavedRounds.Run.of(json.readTree(
        "{\"seconds\": {\"rollout\": 1, \"ref\": 1, \"reward\": 1, \"learn\": 9, \"optimizer\": 0.4}}"));
    InterleavedRounds.Run b = InterleavedRounds.Run.of(json.readTree(
        "{\"seconds\": {\"rollout\": 1, \"ref\": 1, \"reward\": 1, \"learn\": 11, \"optimizer\": 0.6}}"));
    InterleavedRounds.Run untimed = InterleavedRounds.Run.of(json.readTree(
        "{\"seconds\": {\"rollout\": 1, \"ref\": 1, \"reward\": 1, \"learn\": 10}}"));
    assertEquals(12.0, a.iteration(), 1e-12, "rollout + ref + reward + learn");
    Map<String, Object> s = new InterleavedRounds(List.of(), List.of("", "--dtype bf16"), 2)
        .summary(List.of(List.of(a, b), List.of(a, untimed)));
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> variants = (List<Map<String, Object>>) s.get("variants");
    @SuppressWarnings("unchecked")
    Map<String, Double> timed = (Map<String, Double>) variants.get(0).get("phases_median");
    assertEquals(0.5, timed.get("optimizer"), 1e-12);
    assertEquals(13.0, (double) variants.get(0).get("iteration_median"), 1e-12);
    @SuppressWarnings("unchecked")
    Map<String, Double> partly = (Map<String, Double>) variants.get(1).get("phases_median");
    assertTrue(!partly.containsKey("optimizer"), partly.toString());
  }

  /** A variant of one flag is an option's name: the bench's command line takes it as --compare's value. */
  @Test
  void aVariantMayBeOneFlag() {
    CommandLine cli = PpoBench.cli();
    cli.parseArgs("--compare", "--keep-decoding-logprobs", "--compare=--vs-pytorch", "--dtype", "bf16");
    PpoBench bench = cli.getCommand();
    assertEquals(List.of("--keep-decoding-logprobs", "--vs-pytorch"), bench.compare);
    assertEquals("bf16", bench.dtype);
    assertTrue(!bench.keepDecodingLogprobs && !bench.vsPytorch, "the flags are the variants', not the base's");
  }

  @Test
  void roundOptionsAreTakenOutOfTheBaseInBothSpellings() {
    assertEquals(List.of("--layers", "2", "--dtype", "bf16"), InterleavedRounds.withoutRoundOptions(
        List.of("--rounds", "4", "--layers", "2", "--compare", "--dtype f32", "--compare=--lora-r 8", "--rounds=2",
            "--dtype", "bf16")));
  }

  @Test
  void refusesNoVariantNoRoundsAndRecursion() {
    assertTrue(assertThrows(IllegalArgumentException.class, () -> new InterleavedRounds(List.of(), List.of(), 2))
        .getMessage().contains("no variant"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> new InterleavedRounds(List.of(), List.of("", ""), 0))
        .getMessage().contains("--rounds must be at least 1"));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> new InterleavedRounds(List.of(), List.of("", "--rounds 2"), 1)).getMessage().contains("'--rounds 2'"));
  }

  /**
   * A variant its process would refuse is refused when the rounds are set up, before the first
   * run, with the variant and the child's own message.
   */
  @Test
  void aVariantItsProcessWouldRefuseFailsBeforeAnyRun() {
    List<String> base = List.of(TINY);
    Map<String, String> refused = Map.of(
        "--dtype f64x", "--compare '--dtype f64x': --dtype must be f32 or bf16, got 'f64x'",
        "--critic own", "--compare '--critic own': --critic must be shared, separate or separate-own, got 'own'",
        "--workload rl", "--compare '--workload rl': --workload must be ppo, grpo, supervised or render, got 'rl'",
        "--native /no/librlhf4j.so", "--compare '--native /no/librlhf4j.so': --native: no file at /no/librlhf4j.so",
        "--dtyp bf16", "--compare '--dtyp bf16': Unknown option",
        "--layers two", "--compare '--layers two': Invalid value for option '--layers'",
        "--help", "--compare '--help': --help and --version time nothing");
    refused.forEach((variant, message) -> {
      String got = assertThrows(IllegalArgumentException.class,
          () -> new InterleavedRounds(base, List.of("--dtype f32", variant), 1), variant).getMessage();
      assertTrue(got.startsWith(message), got);
    });
    new InterleavedRounds(base, List.of("--dtype f32", "--dtype bf16 --keep-decoding-logprobs", "--critic separate"), 1);
  }

  /**
   * A run that fails in round 3 of 4 ends the bench with its error, after the summary of rounds
   * 1 and 2 (the failed round's first variant left out); one that fails in round 1 has none.
   */
  @Test
  void aFailedRoundKeepsTheSummaryOfTheRoundsBeforeIt() throws Exception {
    InterleavedRounds.Runner failsInRound3 = (v, r) -> {
      if (r == 3 && v == 1) throw new IllegalArgumentException("round 3, variant '--dtype bf16': exited with status 1");
      return v == 0 ? run(10 * r, 100) : run(9 * r, 125);
    };
    java.io.StringWriter text = new java.io.StringWriter();
    java.io.PrintWriter out = new java.io.PrintWriter(text, true);
    InterleavedRounds rounds = new InterleavedRounds(List.of(), List.of("", "--dtype bf16"), 4, failsInRound3);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> rounds.run(out)).getMessage().contains("round 3"));
    String printed = text.toString();
    assertTrue(printed.contains("round 3 failed; the 2 complete rounds before it:"), printed);
    JsonNode s = InProcessBench.lastJson(printed);
    assertEquals(2, s.get("rounds").asInt());
    for (JsonNode v : s.get("variants")) assertEquals(2, v.get("iteration_seconds").size(), "round 3's run left out");
    assertEquals(0.9, s.get("variants").get(1).get("iteration_vs_first_median").asDouble(), 1e-12);

    java.io.StringWriter none = new java.io.StringWriter();
    InterleavedRounds early = new InterleavedRounds(List.of(), List.of("", "--dtype bf16"), 4, (v, r) -> {
      throw new IllegalArgumentException("round 1, variant '(base)': exited with status 1");
    });
    assertThrows(IllegalArgumentException.class, () -> early.run(new java.io.PrintWriter(none, true)));
    assertTrue(none.toString().isEmpty(), none.toString());
  }

  /**
   * With --vs-pytorch each run carries plain PyTorch's own iteration, whose time moves from run
   * to run: the summary has it by round and its median beside the ratios.
   */
  @Test
  void plainPytorchsOwnIterationIsKeptBesideTheRatio() throws Exception {
    InterleavedRounds.Run a = InterleavedRounds.Run.of(new com.fasterxml.jackson.databind.ObjectMapper().readTree(
        "{\"seconds\": {\"rollout\": 1, \"ref\": 1, \"reward\": 1, \"learn\": 9}, \"iteration_vs_pytorch\": 0.6,"
            + " \"pytorch\": {\"total_seconds\": 20.0}}"));
    assertEquals(20.0, a.pytorchIteration());
    assertEquals(0.6, a.iterationVsPytorch());
    InterleavedRounds.Run b = new InterleavedRounds.Run("librlhf4j.so", "f32", a.seconds(), 1, 1, 1, 0.1, 0.75, 0.5, 24.0, Double.NaN);
    Map<String, Object> s = new InterleavedRounds(List.of(), List.of(""), 2).summary(List.of(List.of(a, b)));
    @SuppressWarnings("unchecked")
    Map<String, Object> only = ((List<Map<String, Object>>) s.get("variants")).get(0);
    assertEquals(List.of(20.0, 24.0), Arrays.stream((double[]) only.get("pytorch_iteration_seconds")).boxed().toList());
    assertEquals(22.0, (double) only.get("pytorch_iteration_seconds_median"), 1e-12);
    assertEquals(0.55, (double) only.get("iteration_vs_pytorch_median"), 1e-12);
    java.io.StringWriter text = new java.io.StringWriter();
    new InterleavedRounds(List.of(), List.of(""), 2, (v, r) -> r == 1 ? a : b).run(new java.io.PrintWriter(text, true));
    assertTrue(text.toString().contains("plain PyTorch 20.000 s (0.600x)"), text.toString());
    assertTrue(text.toString().contains("plain PyTorch 24.000 s (0.500x)"), text.toString());
    assertTrue(text.toString().contains("vs plain PyTorch 0.55x (its iteration 22.000 s; by round [0.6, 0.5])"),
        text.toString());
  }

  /**
   * A run timed while the machine was busy (its own share or its PyTorch peer's above the idle
   * limit) is marked on its round's line and counted in the summary; an idle one is not.
   */
  @Test
  void aRunOnABusyMachineIsMarkedNotIdle() throws Exception {
    var json = new com.fasterxml.jackson.databind.ObjectMapper();
    String seconds = "\"seconds\": {\"rollout\": 1, \"ref\": 1, \"reward\": 1, \"learn\": 9}";
    InterleavedRounds.Run idle = InterleavedRounds.Run.of(json.readTree(
        "{" + seconds + ", \"other_cpu_share\": 0.004, \"steal_share\": 0.0}"));
    InterleavedRounds.Run busyPeer = InterleavedRounds.Run.of(json.readTree("{" + seconds
        + ", \"other_cpu_share\": 0.01, \"steal_share\": 0.0, \"pytorch\": {\"total_seconds\": 20.0,"
        + " \"other_cpu_share\": 0.3, \"steal_share\": 0.0}}"));
    assertEquals(0.004, idle.load(), 1e-12);
    assertEquals(0.3, busyPeer.load(), 1e-12, "the PyTorch peer's load counts: its time is in the ratio");
    java.io.StringWriter text = new java.io.StringWriter();
    new InterleavedRounds(List.of(), List.of(""), 2, (v, r) -> r == 1 ? idle : busyPeer)
        .run(new java.io.PrintWriter(text, true));
    String printed = text.toString();
    assertTrue(printed.contains("load 0.4%\n") || printed.contains("load 0.4%" + System.lineSeparator()), printed);
    assertTrue(printed.contains("load 30.0% NOT IDLE"), printed);
    assertTrue(printed.contains("NOT IDLE: in 1 run other processes or the hypervisor took 5% or more of the CPUs' time"),
        printed);
    JsonNode s = InProcessBench.lastJson(printed);
    assertEquals(1, s.get("runs_not_idle").asInt());
    assertEquals(0.3, s.get("variants").get(0).get("load").get(1).asDouble(), 1e-12);
  }

  private static InterleavedRounds.Run run(double learn, double tokensPerS) {
    return new InterleavedRounds.Run("librlhf4j.so", "f32", Map.of("rollout", 0.0, "ref", 0.0, "reward", 0.0, "learn", learn),
        tokensPerS, 1, 1, learn / 100, 0.75, Double.NaN, Double.NaN, Double.NaN);
  }
}
