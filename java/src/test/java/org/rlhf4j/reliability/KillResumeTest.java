package org.rlhf4j.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.Random;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.checkpoint.RunCheckpoints;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.Optimizer;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.MetricsRecord;
import org.rlhf4j.testing.TinyPpo;

/**
 * A real training run (the ppo command in a child JVM, checkpointing every iteration) is
 * SIGKILLed at seeded random moments: during start-up, in the middle of an iteration, while a
 * checkpoint or a metrics line is being written. After every kill the run directory must be
 * usable as a user would use it: the newest complete checkpoint loads, nothing partial counts
 * as complete, metrics.jsonl reads with one entry per iteration, and --resume continues right
 * after the checkpoint it resumes from; in the end the run finishes.
 *
 * <p>A few kills by default; {@code -Drlhf4j.kill.iterations=N} kills N times (with a longer
 * run), {@code -Drlhf4j.kill.seed} picks other moments. Prints one line per kill.
 */
class KillResumeTest {
  private static final int DEFAULT_KILLS = 3;
  /** A kill lands before the first checkpoint (JVM, library, models, restore) one time in this many. */
  private static final int STARTUP_ONE_IN = 8;

  @TempDir Path dir;

  private record Kill(int n, String moment, long startedFrom, long newestComplete, long lastLogged, int leftovers) {
    /** Iterations that were logged but are lost with the process and will run again. */
    long lost() {
      return lastLogged - newestComplete;
    }

    @Override
    public String toString() {
      return String.format(Locale.ROOT, "kill %2d %-38s started from %3d  newest complete %3d  logged %3d  lost %d"
          + "  partial dirs left %d", n, moment, startedFrom, newestComplete, lastLogged, lost(), leftovers);
    }
  }

  @Test
  void killedRunsResumeFromTheirNewestCompleteCheckpointAndFinish() throws Exception {
    int kills = Integer.getInteger("rlhf4j.kill.iterations", DEFAULT_KILLS);
    Random random = new Random(Long.getLong("rlhf4j.kill.seed", 20240611L));
    // Each process gets through 1 to 4 iterations before its kill (the first 2 to 4, or none when
    // killed in start-up): the run outlasts the kills.
    int iterations = Math.max(40, 4 * kills + 10);
    Path config = TinyPpo.configFile(dir);
    Path run = dir.resolve("run");
    List<String> args = List.of("ppo", "--config", config.toString(), "--set", "schedule.iterations=" + iterations,
        "--set", "schedule.checkpoint_every=1", "--set", "schedule.eval_every=5");

    List<Kill> done = new ArrayList<>();
    Timing timing = null;  // measured on the first process, refined on later ones
    for (int k = 1; k <= kills; k++) {
      long before = newestComplete(run);
      List<String> a = new ArrayList<>(args);
      if (k > 1) a.add("--resume");
      TrainingProcess p = TrainingProcess.cli(dir.resolve("process-" + k + ".log"), a);
      String moment;
      if (timing != null && random.nextInt(STARTUP_ONE_IN) == 0) {
        double delay = random.nextDouble() * timing.startupSeconds();
        Thread.sleep((long) (delay * 1000));
        moment = String.format(Locale.ROOT, "before its first checkpoint (%.2f s)", delay);
      } else {
        // The first time, two checkpoints at least: the time between them is an iteration's.
        int checkpoints = (timing == null ? 2 : 1) + random.nextInt(timing == null ? 2 : 3);
        timing = awaitCheckpoints(p, checkpoints, timing);
        double fraction = random.nextDouble();
        Thread.sleep((long) (fraction * timing.iterationSeconds() * 1000));
        moment = String.format(Locale.ROOT, "after %d checkpoints + %.0f%% of one", checkpoints, 100 * fraction);
      }
      int n = k;
      assertTrue(p.isAlive(), () -> "the run ended before kill " + n + ":\n" + p.output());
      p.kill();

      checkResumedRightAfter(p, before);
      Kill kill = new Kill(k, moment, before, newestComplete(run), checkRunDirectory(run), leftovers(run));
      System.out.println(kill);
      done.add(kill);
    }

    long before = newestComplete(run);
    TrainingProcess last = TrainingProcess.cli(dir.resolve("process-last.log"), concat(args, "--resume"));
    assertEquals(0, last.waitFor(300), last::output);
    checkResumedRightAfter(last, before);
    assertEquals(iterations, checkRunDirectory(run), "the finished run's last logged iteration");
    assertEquals(iterations, newestComplete(run), "the finished run's checkpoint");
    assertEquals(0, leftovers(run), "leftovers of interrupted saves once a save has succeeded");
    System.out.println(summary(done));
  }

  /** Seconds from a process's start to its first checkpoint report, and between two reports. */
  private record Timing(double startupSeconds, double iterationSeconds) {}

  /**
   * Waits until p has reported n checkpoints; returns what it took, keeping from before what
   * this wait did not measure.
   */
  private static Timing awaitCheckpoints(TrainingProcess p, int n, Timing before) throws InterruptedException {
    long lastReport = 0;
    double startup = before == null ? 0 : before.startupSeconds();
    double iteration = before == null ? 0 : before.iterationSeconds();
    int seen = 0;
    while (seen < n) {
      assertTrue(p.isAlive(), () -> "the run ended before its checkpoint " + n + ":\n" + p.output());
      assertTrue(p.secondsSinceStart() < 120, () -> "no checkpoint " + n + " within 120 s:\n" + p.output());
      int now = p.checkpointsWritten().size();
      if (now > seen) {
        long t = System.nanoTime();
        if (seen == 0) startup = p.secondsSinceStart();
        else iteration = (t - lastReport) / 1e9 / (now - seen);
        lastReport = t;
        seen = now;
      }
      Thread.sleep(2);
    }
    return new Timing(startup, iteration);
  }

  /**
   * The process resumed from the newest complete checkpoint there was when it started, and the
   * first iteration it finished is the one after it.
   */
  private static void checkResumedRightAfter(TrainingProcess p, long newestAtStart) {
    OptionalLong resumed = p.resumedFrom();
    List<Long> written = p.checkpointsWritten();
    if (newestAtStart > 0 && !written.isEmpty()) {
      assertTrue(resumed.isPresent(), () -> "no 'resumed from' in:\n" + p.output());
    }
    if (resumed.isPresent()) assertEquals(newestAtStart, resumed.getAsLong(), p::output);
    if (!written.isEmpty()) assertEquals(newestAtStart + 1, written.getFirst(), p::output);
  }

  /**
   * Checks what a user finds after a crash; returns the last logged iteration. Every complete
   * checkpoint loads (weights and optimizer state into fresh objects, trainer state naming its
   * own iteration); the newest is the one resuming picks; metrics.jsonl holds iterations 1..n
   * once each, and never fewer than the newest checkpoint has.
   */
  private static long checkRunDirectory(Path run) throws IOException {
    List<Path> complete = new RunCheckpoints(run, Integer.MAX_VALUE).complete();
    for (Path c : complete) assertLoads(c);
    long newest = newestComplete(run);
    if (!complete.isEmpty()) assertEquals(newest, iterationOf(complete.getLast()));

    Path metrics = run.resolve(MetricsLog.FILE_NAME);
    if (!Files.exists(metrics)) {
      assertEquals(0, newest, "a checkpoint without metrics.jsonl");
      return 0;
    }
    List<Long> logged = MetricsLog.read(metrics).stream().map(MetricsRecord::iteration).toList();
    assertEquals(LongStream.rangeClosed(1, logged.size()).boxed().toList(), logged, "iterations in metrics.jsonl");
    assertTrue(logged.size() >= newest, "metrics.jsonl ends at " + logged.size() + ", before checkpoint " + newest);
    return logged.size();
  }

  private static void assertLoads(Path dir) {
    Checkpoint c = Checkpoint.open(dir);
    try (Model model = Model.create(c.config().model(), "cpu");
        Optimizer optimizer = Optimizer.create(model, Optimizer.AdamW.defaults())) {
      c.loadWeights(model, LoadOptions.strict());
      c.loadOptimizer(optimizer, "policy.");
    }
    long iteration = c.trainerState().orElseThrow(() -> new AssertionError(dir + ": no trainer state"))
        .get("iteration").asLong();
    assertEquals(iterationOf(dir), iteration, dir + "/trainer_state.json");
  }

  /**
   * The newest checkpoint with its completion marker, found without the production code (0 if
   * none); RunCheckpoints must agree, and must not pick a temp directory.
   */
  private static long newestComplete(Path run) throws IOException {
    Path root = run.resolve(RunCheckpoints.DIR);
    long newest = 0;
    if (Files.isDirectory(root)) {
      try (Stream<Path> entries = Files.list(root)) {
        for (Path p : entries.toList()) {
          String name = p.getFileName().toString();
          if (name.matches("iter-\\d+") && Files.isRegularFile(p.resolve(Checkpoint.COMPLETE))) {
            newest = Math.max(newest, iterationOf(p));
          }
        }
      }
    }
    OptionalLong picked = new RunCheckpoints(run, Integer.MAX_VALUE).latest().stream()
        .mapToLong(KillResumeTest::iterationOf).findFirst();
    assertEquals(newest, picked.orElse(0), "RunCheckpoints.latest() in " + root);
    return newest;
  }

  /** Temp directories and marker-less checkpoint directories (interrupted saves). */
  private static int leftovers(Path run) throws IOException {
    Path root = run.resolve(RunCheckpoints.DIR);
    if (!Files.isDirectory(root)) return 0;
    try (Stream<Path> entries = Files.list(root)) {
      return (int) entries.filter(p -> !Files.isRegularFile(p.resolve(Checkpoint.COMPLETE))
          || p.getFileName().toString().startsWith(".")).count();
    }
  }

  private static long iterationOf(Path checkpoint) {
    return Long.parseLong(checkpoint.getFileName().toString().substring("iter-".length()));
  }

  private static List<String> concat(List<String> a, String b) {
    List<String> out = new ArrayList<>(a);
    out.add(b);
    return out;
  }

  private static String summary(List<Kill> kills) {
    long lost = kills.stream().mapToLong(Kill::lost).sum();
    long max = kills.stream().mapToLong(Kill::lost).max().orElse(0);
    long partial = kills.stream().filter(k -> k.leftovers() > 0).count();
    return String.format(Locale.ROOT, "%d kills survived; iterations lost per kill: mean %.2f, max %d;"
        + " %d kills left a partial checkpoint behind", kills.size(), (double) lost / Math.max(1, kills.size()), max,
        partial);
  }
}
