package org.rlhf4j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.checkpoint.RunCheckpoints;
import org.rlhf4j.config.ConfigException;
import org.rlhf4j.testing.TinyCheckpoints;

/** The job manager as a library (no HTTP): sft then train-rm jobs, queued one at a time, watched. */
class JobManagerTest {
  @TempDir Path dir;

  @Test
  void sftAndRewardModelJobsRunOneAtATimeWithEventsAndRefuseWhatTheyCannotDo() throws Exception {
    Path inputs = Files.createDirectories(dir.resolve("inputs"));
    Path model = TinyCheckpoints.write(inputs.resolve("model"), TinyCheckpoints.gpt2());
    Path sftData = Files.write(inputs.resolve("sft.jsonl"), List.of(
        "{\"prompt\": \"one two\", \"completion\": \"three four\"}",
        "{\"prompt\": \"the food was\", \"completion\": \"very good\"}",
        "{\"text\": \"it is great\"}",
        "{\"prompt\": \"five\", \"completion\": \"six\"}"));
    Path rmData = Files.write(inputs.resolve("rm.jsonl"), List.of(
        "{\"prompt\": \"the food was\", \"chosen\": \"good\", \"rejected\": \"bad\"}",
        "{\"prompt\": \"it is\", \"chosen\": \"very good\", \"rejected\": \"very bad\"}",
        "{\"chosen\": \"the food is good\", \"rejected\": \"the food is bad\"}"));
    YAMLMapper yaml = new YAMLMapper();
    JsonNode sft = yaml.readTree("""
        model: {path: '%s'}
        data: {prompts: '%s', max_prompt_tokens: 16}
        sft: {epochs: 2, batch_size: 2, micro_batch_size: 1, max_seq_len: 32}
        """.formatted(model, sftData));

    try (JobManager jobs = new JobManager(dir.resolve("runs"), List.of(inputs))) {
      List<JobEvent> events = new CopyOnWriteArrayList<>();
      CountDownLatch finished = new CountDownLatch(2);
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
        assertTrue(finished.await(120, TimeUnit.SECONDS), events::toString);

        JobInfo a = jobs.get(first.id()).orElseThrow();
        JobInfo b = jobs.get(second.id()).orElseThrow();
        assertEquals(JobState.SUCCEEDED, a.state(), a::toString);
        assertEquals(JobState.SUCCEEDED, b.state(), b::toString);
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
      assertEquals(List.of(JobState.SUCCEEDED, JobState.SUCCEEDED), again.list().stream().map(JobInfo::state).toList());
    }
  }
}
