package org.rlhf4j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.InputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 23's attacks on the service, each replayed against a real server on a loopback port:
 * the newline and symlink escape from the allowed roots, a thread knob without bound, two jobs
 * sharing a run directory, hundreds of open event streams, run.out naming a file, errors only
 * found when the job runs, the token as a prompt file, and a cancel lost to a killed service.
 */
class JobServerAttackTest {
  @TempDir Path dir;

  private static HttpResponse<String> submit(ServeFixture s, JsonNode config) throws Exception {
    return s.post("/api/jobs", ServeFixture.JSON.writeValueAsString(Map.of("command", "ppo", "config", config)));
  }

  private static ObjectNode with(ObjectNode config, String key, Object value) {
    ObjectNode section = (ObjectNode) config.get(key.substring(0, key.indexOf('.')));
    String name = key.substring(key.indexOf('.') + 1);
    switch (value) {
      case Integer i -> section.put(name, i);
      default -> section.put(name, value.toString());
    }
    return config;
  }

  private static List<String> runsListing(ServeFixture s) throws Exception {
    try (Stream<Path> runs = Files.list(s.manager.runs())) {
      return runs.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void aNewlineInAPathCannotTurnAFolderedSymlinkIntoAnEscape() throws Exception {
    try (ServeFixture s = new ServeFixture(dir)) {
      Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
      Files.createSymbolicLink(s.manager.runs().resolve("out link"), elsewhere);
      // YAML folds the newline into a space: the old service checked one path and ran another.
      HttpResponse<String> r = submit(s, with(s.ppoConfig(1, false), "run.out", s.manager.runs() + "/out\nlink/escaped"));
      String message = s.json(r, 400).get("error").asText();
      assertTrue(message.startsWith("run.out: control character U+000A"), message);
      HttpResponse<String> plain = submit(s, with(s.ppoConfig(1, false), "run.out", s.manager.runs() + "/out link/escaped"));
      assertTrue(s.json(plain, 403).get("error").asText().contains("outside the allowed roots"), plain::body);
      assertFalse(Files.exists(elsewhere.resolve("escaped")));
      assertEquals(0, s.json(s.get("/api/jobs"), 200).size());
    }
  }

  @Test
  void submitTimeChecksRefuseWhatTheJobWouldOnlyFindRunningAndLeaveNothingBehind() throws Exception {
    try (ServeFixture s = new ServeFixture(dir)) {
      Path file = Files.writeString(s.manager.runs().resolve("a-file"), "not a directory\n");
      Map<String, Object[]> cases = new LinkedHashMap<>();
      cases.put("threads", new Object[] {"run.threads", 100000, "run.threads: 100000 is more than this machine's"});
      cases.put("file out", new Object[] {"run.out", file.toString(), "run.out: " + file + " is a file"});
      cases.put("context", new Object[] {"generation.max_new_tokens", 60, "exceeds the context of model.path"});
      cases.put("runtime", new Object[] {"reward.function", "java.lang.Runtime",
          "reward.function: java.lang.Runtime does not implement org.rlhf4j.ppo.RewardFunction"});
      cases.put("missing", new Object[] {"reward.function", "org.example.NoSuchReward",
          "reward.function: class org.example.NoSuchReward is not on the classpath"});
      cases.put("directory", new Object[] {"data.prompts", s.inputs.toString(), "data.prompts: " + s.inputs
          + " is not a file"});
      cases.put("device", new Object[] {"run.device", "cuda:999", "run.device: cuda:999 is not a device of this build"});
      cases.put("no model", new Object[] {"model.path", s.inputs.toString(), "model.path: "});
      for (Map.Entry<String, Object[]> c : cases.entrySet()) {
        Object[] v = c.getValue();
        HttpResponse<String> r = submit(s, with(s.ppoConfig(1, false), (String) v[0], v[1]));
        String message = s.json(r, 400).get("error").asText();
        assertTrue(message.startsWith((String) v[2]) || message.contains((String) v[2]), c.getKey() + ": " + message);
        assertFalse(message.contains("\n"), message);
      }
      assertEquals(0, s.json(s.get("/api/jobs"), 200).size());
      assertEquals(List.of("a-file", ServeToken.FILE_NAME), runsListing(s), "no job directory left behind");
    }
  }

  @Test
  void theTokenAndJobRecordsAreNeverJobInputs() throws Exception {
    try (ServeFixture s = new ServeFixture(dir)) {
      String id = s.submit(s.ppoConfig(1, false));
      s.awaitState(id, "succeeded");
      for (Path state : List.of(s.manager.runs().resolve(ServeToken.FILE_NAME),
          s.manager.runs().resolve(id).resolve(JobManager.JOB_FILE))) {
        HttpResponse<String> r = submit(s, with(s.ppoConfig(1, false), "data.prompts", state.toString()));
        String message = s.json(r, 403).get("error").asText();
        assertTrue(message.startsWith("data.prompts: ") && message.contains("service's own state"), message);
      }
      // Nor is another job's directory (or anything in it) a new job's run directory.
      Path inside = s.manager.runs().resolve(id).resolve("checkpoints");
      HttpResponse<String> r = submit(s, with(s.ppoConfig(1, false), "run.out", inside.toString()));
      assertTrue(s.json(r, 400).get("error").asText().contains("is inside the directory of job " + id), r::body);
      assertEquals(1, s.json(s.get("/api/jobs"), 200).size());
    }
  }

  @Test
  void aRunDirectoryBelongsToOneQueuedOrRunningJob() throws Exception {
    try (ServeFixture s = new ServeFixture(dir)) {
      // The first job holds the device, so the next two wait in its queue with nothing on disk yet.
      String first = s.submit(s.ppoConfig(40, true));
      Path shared = s.manager.runs().resolve("shared");
      String a = s.submit(with(s.ppoConfig(1, false), "run.out", shared.toString()));
      HttpResponse<String> b = submit(s, with(s.ppoConfig(1, false), "run.out", shared.toString()));
      String message = s.json(b, 409).get("error").asText();
      assertTrue(message.contains("belongs to job " + a), message);
      // Released when the job ends (here: cancelled while queued), taken by the next.
      s.json(s.post("/api/jobs/" + a + "/cancel", ""), 200);
      String c = s.submit(with(s.ppoConfig(1, false), "run.out", shared.toString()));
      s.json(s.post("/api/jobs/" + first + "/cancel", ""), 200);
      assertEquals(shared.toString(), s.awaitState(c, "succeeded").get("run_dir").asText());
      assertEquals("cancelled", s.json(s.get("/api/jobs/" + a), 200).get("state").asText());
      assertEquals(3, s.json(s.get("/api/jobs"), 200).size());
    }
  }

  @Test
  void hundredsOfOpenStreamsLeaveHealthAndTheApiAnsweringAndResumeFromAnIteration() throws Exception {
    try (ServeFixture s = new ServeFixture(dir)) {
      String id = s.submit(s.ppoConfig(200, true));
      s.awaitIteration(id, 1);
      List<CompletableFuture<HttpResponse<InputStream>>> streams = new ArrayList<>();
      try {
        for (int i = 0; i < 300; i++) {
          streams.add(s.http.sendAsync(s.request("/api/jobs/" + id + "/events").GET().build(),
              HttpResponse.BodyHandlers.ofInputStream()));
        }
        int open = 0;
        int refused = 0;
        for (CompletableFuture<HttpResponse<InputStream>> f : streams) {
          int status = f.get(60, TimeUnit.SECONDS).statusCode();
          if (status == 200) open++;
          if (status == 429) refused++;
        }
        assertEquals(JobServer.Options.DEFAULT_MAX_STREAMS_PER_TOKEN, open);
        assertEquals(300 - open, refused);
        Duration second = Duration.ofSeconds(1);
        HttpResponse<String> health = s.send(HttpRequest.newBuilder(s.uri("/health")).timeout(second).GET().build());
        assertEquals(200, health.statusCode());
        HttpResponse<String> job = s.send(s.request("/api/jobs/" + id).timeout(second).GET().build());
        assertEquals("running", s.json(job, 200).get("state").asText());
      } finally {
        for (CompletableFuture<HttpResponse<InputStream>> f : streams) {
          f.thenAccept(r -> {
            try {
              r.body().close();
            } catch (java.io.IOException e) {
              // already closed
            }
          });
        }
      }
      s.json(s.post("/api/jobs/" + id + "/cancel", ""), 200);
      long at = s.awaitState(id, "cancelled").get("iteration").asLong();
      assertTrue(at >= 1, "cancelled at " + at);

      // A client that has iterations up to 0 (?after=0) gets every later one from the run's metrics.
      // The closed streams free their places once the server notices them gone: at a failed
      // write, at the latest the next keep-alive comment.
      String path = "/api/jobs/" + id + "/events?after=0";
      HttpResponse<String> replay = s.get(path);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2 * EventStreams.KEEPALIVE_SECONDS + 10);
      while (replay.statusCode() == 429 && System.nanoTime() < deadline) {
        Thread.sleep(200);
        replay = s.get(path);
      }
      String after = replay.body();
      List<String> ids = after.lines().filter(l -> l.startsWith("id: ")).map(l -> l.substring(4)).toList();
      List<String> expected = new ArrayList<>();
      for (long i = 1; i <= at; i++) expected.add(Long.toString(i));
      assertEquals(expected, ids, after);
      assertTrue(after.contains("\"state\":\"cancelled\""), after);
    }
  }

  @Test
  void aCancelRequestedBeforeTheServiceWasKilledEndsTheJobCancelled() throws Exception {
    String id;
    Path jobFile;
    try (ServeFixture s = new ServeFixture(dir)) {
      id = s.submit(s.ppoConfig(40, true));
      s.awaitIteration(id, 1);
      s.json(s.post("/api/jobs/" + id + "/cancel", ""), 200);
      s.awaitState(id, "cancelled");
      jobFile = s.manager.runs().resolve(id).resolve(JobManager.JOB_FILE);
    }
    // A service killed after the cancel request, before the job stopped, leaves "running" on disk.
    String record = Files.readString(jobFile);
    Files.writeString(jobFile, record.replace("\"CANCELLED\"", "\"RUNNING\""));
    try (ServeFixture s = new ServeFixture(dir)) {
      assertEquals("cancelled", s.json(s.get("/api/jobs/" + id), 200).get("state").asText());
    }
  }
}
