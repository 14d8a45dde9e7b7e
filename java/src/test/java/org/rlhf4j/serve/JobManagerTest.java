package org.rlhf4j.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.RunCheckpoints;
import org.rlhf4j.config.ConfigException;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.MetricsRecord;
import org.rlhf4j.testing.TinyCheckpoints;

/**
 * The job manager as a library (no HTTP): sft then train-rm jobs, queued one at a time, watched,
 * cancelled at a step and resumed.
 */
class JobManagerTest {
  @TempDir Path dir;

  @Test
  void sftRewardModelAndDpoJobsRunOneAtATimeWithEventsAndRefuseWhatTheyCannotDo() throws Exception {
    Path inputs = Files.createDirectories(dir.resolve("inputs"));
    Path model = TinyCheckpoints.write(inputs.resolve("model"), TinyCheckpoints.gpt2());
    Path sftData = sftData(inputs);
    Path rmData = rmData(inputs);
    YAMLMapper yaml = new YAMLMapper();
    JsonNode sft = yaml.readTree("""
        model: {path: '%s'}
        data: {prompts: '%s', max_prompt_tokens: 16}
        sft: {epochs: 2, batch_size: 2, micro_batch_size: 1, max_seq_len: 32}
        """.formatted(model, sftData));

    try (JobManager jobs = new JobManager(dir.resolve("runs"), List.of(inputs))) {
      List<JobEvent> events = new CopyOnWriteArrayList<>();
      CountDownLatch finished = new CountDownLatch(3);
      JobManager.Subscription listening = jobs.listen(null, e -> {
        events.add(e);
        if (e.type().equals(JobEvent.STATE) && e.state().finished()) finished.countDown();
      });
      try {
        JobInfo first = jobs.submit("sft", sft);
        // The reward model starts from the first job's run directory: its newest checkpoint.
        JsonNode rm = yaml.readTree("""
            model: {path: '%s'}
            data: {prompts: '%s', max_prompt_tokens: 16}
            rm: {epochs: 2, batch_size: 3, micro_batch_size: 3, max_seq_len: 32}
            """.formatted(first.runDir(), rmData));
        JobInfo second = jobs.submit("train-rm", rm);
        assertEquals(JobState.QUEUED, jobs.get(second.id()).orElseThrow().state());
        JsonNode dpo = yaml.readTree("""
            model: {path: '%s'}
            data: {prompts: '%s', eval_fraction: 0}
            dpo: {epochs: 1, batch_size: 2, micro_batch_size: 1, max_length: 32}
            """.formatted(first.runDir(), dpoData(inputs)));
        JobInfo third = jobs.submit("dpo", dpo);
        assertTrue(finished.await(120, TimeUnit.SECONDS), events::toString);

        JobInfo a = jobs.get(first.id()).orElseThrow();
        JobInfo b = jobs.get(second.id()).orElseThrow();
        assertEquals(JobState.SUCCEEDED, a.state(), a::toString);
        assertEquals(JobState.SUCCEEDED, b.state(), b::toString);
        JobInfo c = jobs.get(third.id()).orElseThrow();
        assertEquals(JobState.SUCCEEDED, c.state(), c::toString);
        assertTrue(c.lastMetrics().containsKey("rewards/margins"), c.lastMetrics()::toString);
        assertTrue(!Instant.parse(b.started()).isBefore(Instant.parse(a.finished())), "one job at a time per device");
        assertEquals(4, a.totalIterations());
        assertEquals(4, a.iteration());
        assertTrue(a.lastMetrics().containsKey("train/loss"));
        assertTrue(new RunCheckpoints(Path.of(b.runDir()), Integer.MAX_VALUE).latest().isPresent());
        // sft's steps arrive as iteration events (read from its metrics.jsonl), before its end.
        List<Long> steps = events.stream().filter(e -> e.job().equals(a.id()) && e.type().equals(JobEvent.ITERATION))
            .map(JobEvent::iteration).toList();
        assertEquals(List.of(1L, 2L, 3L, 4L), steps);
        assertEquals(List.of(JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED), events.stream()
            .filter(e -> e.job().equals(a.id()) && e.type().equals(JobEvent.STATE)).map(JobEvent::state).toList());
        assertTrue(jobs.log(a.id()).contains("succeeded"));
      } finally {
        listening.close();
      }

      JobInfo done = jobs.list().getFirst();
      assertEquals(JobException.Reason.CONFLICT, assertThrows(JobException.class, () -> jobs.cancel(done.id())).reason());
      assertEquals(JobException.Reason.CONFLICT, assertThrows(JobException.class, () -> jobs.resume(done.id())).reason());
      assertEquals(JobException.Reason.NOT_FOUND, assertThrows(JobException.class, () -> jobs.cancel("nope")).reason());
      ConfigException e = assertThrows(ConfigException.class, () -> jobs.submit("sft",
          yaml.readTree("model: {path: '" + model + "'}\ndata: {prompts: '" + inputs.resolve("missing.jsonl") + "'}")));
      assertTrue(e.getMessage().startsWith("data.prompts: no such file or directory"), e.getMessage());
    }
    // A new manager over the same root lists both jobs as they ended.
    try (JobManager again = new JobManager(dir.resolve("runs"), List.of(inputs))) {
      assertEquals(List.of(JobState.SUCCEEDED, JobState.SUCCEEDED, JobState.SUCCEEDED),
          again.list().stream().map(JobInfo::state).toList());
    }
  }

  @Test
  void aCancelledSftOrRewardModelJobCheckpointsAndItsResumeEndsWithTheWeightsOfAnUninterruptedRun() throws Exception {
    Path inputs = Files.createDirectories(dir.resolve("inputs"));
    Path model = TinyCheckpoints.write(inputs.resolve("model"), TinyCheckpoints.gpt2());
    Path sftData = sftData(inputs);
    Path rmData = rmData(inputs);
    YAMLMapper yaml = new YAMLMapper();
    // Shuffled, several epochs, dropout off by default but a warm-up and decay: a resume that got
    // the data order, the step counter or the optimizer state wrong ends with other weights.
    JsonNode sft = yaml.readTree("""
        model: {path: '%s'}
        data: {prompts: '%s', max_prompt_tokens: 16, eval_fraction: 0.25}
        sft: {epochs: 3, batch_size: 2, micro_batch_size: 1, max_seq_len: 32, warmup_steps: 1}
        optim: {lr: 0.01}
        """.formatted(model, sftData));
    JsonNode rm = yaml.readTree("""
        model: {path: '%s'}
        data: {prompts: '%s', max_prompt_tokens: 16, eval_fraction: 0}
        rm: {epochs: 2, batch_size: 2, micro_batch_size: 1, max_seq_len: 32}
        optim: {lr: 0.01}
        """.formatted(model, rmData));
    try (JobManager jobs = new JobManager(dir.resolve("runs"), List.of(inputs))) {
      // sft: 3 epochs of 2 steps, stopped after step 3 (in the middle of the second epoch).
      assertCancelAndResumeMatch(jobs, "sft", sft, 6, 3);
      // train-rm: 2 epochs of 2 steps, stopped after step 1.
      assertCancelAndResumeMatch(jobs, "train-rm", rm, 4, 1);
    }
  }

  /** Runs config straight, then again cancelled after step stopAt and resumed: same metrics, same model. */
  private static void assertCancelAndResumeMatch(JobManager jobs, String command, JsonNode config, long steps,
      long stopAt) throws Exception {
    JobInfo straight = jobs.submit(command, config);
    JobInfo cut = jobs.submit(command, config);
    CountDownLatch cancelled = new CountDownLatch(1);
    CountDownLatch finished = new CountDownLatch(2);
    List<JobEvent> events = new CopyOnWriteArrayList<>();
    try (JobManager.Subscription l = jobs.listen(null, e -> {
      events.add(e);
      // On the job's thread, after the step: the stop is honoured before the next one.
      if (e.job().equals(cut.id()) && e.type().equals(JobEvent.ITERATION) && e.iteration() == stopAt) {
        jobs.cancel(cut.id());
      }
      if (e.type().equals(JobEvent.STATE) && e.state() == JobState.CANCELLED) cancelled.countDown();
      if (e.type().equals(JobEvent.STATE) && e.state() == JobState.SUCCEEDED) finished.countDown();
    })) {
      assertTrue(cancelled.await(120, TimeUnit.SECONDS), events::toString);
      JobInfo stopped = jobs.get(cut.id()).orElseThrow();
      assertEquals(JobState.CANCELLED, stopped.state(), stopped::toString);
      assertEquals(stopAt, stopped.iteration());
      Path cutDir = Path.of(cut.runDir());
      RunCheckpoints cutCheckpoints = new RunCheckpoints(cutDir, Integer.MAX_VALUE);
      Path checkpoint = cutCheckpoints.latest().orElseThrow();
      assertEquals(cutCheckpoints.pathFor(stopAt), checkpoint, "a checkpoint of the last step");
      assertTrue(Files.exists(checkpoint.resolve(Checkpoint.OPTIMIZER)), "with the optimizer state");
      assertEquals(stopAt, MetricsLog.read(cutDir.resolve(MetricsLog.FILE_NAME)).size());
      assertTrue(jobs.log(cut.id()).contains("cancelled"));

      jobs.resume(cut.id());
      assertTrue(finished.await(120, TimeUnit.SECONDS), events::toString);
    }
    JobInfo resumed = jobs.get(cut.id()).orElseThrow();
    assertEquals(JobState.SUCCEEDED, resumed.state(), resumed::toString);
    assertEquals(steps, resumed.iteration());
    Path a = Path.of(straight.runDir());
    Path b = Path.of(cut.runDir());
    List<MetricsRecord> straightMetrics = MetricsLog.read(a.resolve(MetricsLog.FILE_NAME));
    assertEquals(steps, straightMetrics.size());
    assertEquals(straightMetrics, MetricsLog.read(b.resolve(MetricsLog.FILE_NAME)), "every step's metrics");
    Path finalA = new RunCheckpoints(a, 1).latest().orElseThrow();
    Path finalB = new RunCheckpoints(b, 1).latest().orElseThrow();
    assertEquals(new RunCheckpoints(a, 1).pathFor(steps), finalA);
    assertEquals(List.of(finalB), new RunCheckpoints(b, Integer.MAX_VALUE).complete(), "the final model only");
    assertFalse(Files.exists(finalB.resolve(Checkpoint.OPTIMIZER)), "a finished run keeps its model only");
    for (String file : List.of("model.safetensors", Checkpoint.TRAINER_STATE)) {
      assertArrayEquals(Files.readAllBytes(finalA.resolve(file)), Files.readAllBytes(finalB.resolve(file)),
          command + ": " + file + " of the resumed run");
    }
  }

  /** Four SFT examples (prompt/completion and plain text) under inputs. */
  private static Path sftData(Path inputs) throws IOException {
    return Files.write(inputs.resolve("sft.jsonl"), List.of(
        "{\"prompt\": \"one two\", \"completion\": \"three four\"}",
        "{\"prompt\": \"the food was\", \"completion\": \"very good\"}",
        "{\"text\": \"it is great\"}",
        "{\"prompt\": \"five\", \"completion\": \"six\"}"));
  }

  /** Three preference pairs under inputs. */
  /** DPO's pairs: completions start with their space, as TRL concatenates prompt + completion. */
  private static Path dpoData(Path inputs) throws IOException {
    return Files.write(inputs.resolve("dpo.jsonl"), List.of(
        "{\"prompt\": \"the food was\", \"chosen\": \" good\", \"rejected\": \" bad\"}",
        "{\"prompt\": \"it is\", \"chosen\": \" very good\", \"rejected\": \" very bad\"}"));
  }

  private static Path rmData(Path inputs) throws IOException {
    return Files.write(inputs.resolve("rm.jsonl"), List.of(
        "{\"prompt\": \"the food was\", \"chosen\": \"good\", \"rejected\": \"bad\"}",
        "{\"prompt\": \"it is\", \"chosen\": \"very good\", \"rejected\": \"very bad\"}",
        "{\"chosen\": \"the food is good\", \"rejected\": \"the food is bad\"}"));
  }
}
