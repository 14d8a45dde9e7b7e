package org.rlhf4j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.checkpoint.RunCheckpoints;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.MetricsRecord;
import org.rlhf4j.metrics.TensorBoardWriter;
import org.rlhf4j.metrics.TensorBoardWriterTest;

/** The service end to end: a real server on a loopback port, a real HTTP client, tiny PPO jobs. */
class JobServerTest {
  @TempDir Path dir;

  @Test
  void jobRunsToTheEndWithEventsMetricsSamplesAndBadRequestsDoNotDisturbIt() throws Exception {
    try (ServeFixture s = new ServeFixture(dir)) {
      ObjectNode config = s.ppoConfig(6, true);
      String a = s.submit(config);
      List<ServeFixture.Event> events = s.events(a);

      // Events: the state at connection, one per iteration, the final state.
      List<Long> iterations = events.stream().filter(e -> e.type().equals("iteration"))
          .map(e -> e.data().get("iteration").asLong()).toList();
      assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L), iterations.subList(iterations.size() - 6, iterations.size()),
          events::toString);
      ServeFixture.Event last = events.getLast();
      assertEquals("state", last.type());
      assertEquals("succeeded", last.data().get("state").asText());

      JsonNode job = s.json(s.get("/api/jobs/" + a), 200);
      assertEquals("succeeded", job.get("state").asText());
      assertEquals(6, job.get("iteration").asLong());
      assertEquals(6, job.get("total_iterations").asLong());
      Path runDir = Path.of(job.get("run_dir").asText());
      assertEquals(s.manager.runs().resolve(a), runDir, "the run directory is created under --runs");
      assertTrue(job.get("last_metrics").has("objective/kl"));

      // /metrics is metrics.jsonl as JSON; the run directory is the CLI's.
      JsonNode metrics = s.json(s.get("/api/jobs/" + a + "/metrics"), 200);
      List<MetricsRecord> file = MetricsLog.read(runDir.resolve(MetricsLog.FILE_NAME));
      assertEquals(6, metrics.size());
      for (int i = 0; i < 6; i++) {
        assertEquals(file.get(i).iteration(), metrics.get(i).get("iteration").asLong());
        assertEquals(file.get(i).get("objective/kl"), metrics.get(i).get("objective/kl").asDouble());
      }
      assertTrue(Files.isRegularFile(runDir.resolve("checkpoints/iter-000006/COMPLETE")));
      assertTrue(Files.isRegularFile(runDir.resolve("config.yaml")));
      assertTrue(Files.isRegularFile(runDir.resolve("report.html")));
      // TensorBoard's view of the run holds the same scalars.
      List<Path> eventFiles;
      try (Stream<Path> files = Files.list(runDir)) {
        eventFiles = files.filter(p -> p.getFileName().toString().startsWith(TensorBoardWriter.PREFIX)).toList();
      }
      assertEquals(1, eventFiles.size());
      List<TensorBoardWriterTest.Event> decoded = TensorBoardWriterTest.decode(eventFiles.getFirst());
      assertEquals(7, decoded.size(), "file version, then one event per iteration");
      for (int i = 0; i < 6; i++) {
        assertEquals(file.get(i).iteration(), decoded.get(i + 1).step());
        assertEquals((float) file.get(i).get("objective/kl"), decoded.get(i + 1).scalars().get("objective/kl"));
        assertEquals(file.get(i).values().keySet(), decoded.get(i + 1).scalars().keySet());
      }

      JsonNode samples = s.json(s.get("/api/jobs/" + a + "/samples"), 200);
      assertEquals(6, samples.size());
      JsonNode sample = samples.get(5).get("samples").get(0);
      assertTrue(sample.has("prompt") && sample.has("response") && sample.has("score"), sample::toString);
      assertTrue(s.get("/api/jobs/" + a + "/log").body().contains("succeeded"));
      assertTrue(s.get("/api/jobs/" + a + "/config").body().contains("iterations: 6"));
      String prometheus = s.get("/metrics").body();
      for (String line : prometheus.split("\n")) {
        assertTrue(line.matches("# (HELP|TYPE) rlhf4j_\\w+ .+|rlhf4j_\\w+(\\{(\\w+=\"[^\"]*\",?)+\\})? \\S+"), line);
      }
      assertTrue(prometheus.contains("rlhf4j_jobs{state=\"succeeded\"} 1"), prometheus);
      assertTrue(prometheus.contains("rlhf4j_job_iteration{job=\"" + a + "\",command=\"ppo\"} 6"), prometheus);

      // The same job again, under a barrage of bad requests while it runs: same results.
      String b = s.submit(config);
      s.awaitState(b, "running");
      // Refused because the job runs: once, while most of its iterations are ahead (a barrage of
      // them would outlast a fast job, and then deleting it is no longer refused).
      assertEquals(409, s.http.send(s.request("/api/jobs/" + b).DELETE().build(),
          HttpResponse.BodyHandlers.ofString()).statusCode());
      assertEquals(409, s.http.send(s.request("/api/jobs/" + b + "/resume").POST(HttpRequest.BodyPublishers.noBody())
          .build(), HttpResponse.BodyHandlers.ofString()).statusCode());
      List<Integer> statuses = badRequests(s, b, 200);
      assertFalse(statuses.contains(200) || statuses.contains(201) || statuses.contains(500), statuses::toString);
      assertEquals("succeeded", s.awaitState(b, "succeeded").get("state").asText());
      List<MetricsRecord> undisturbed = MetricsLog.read(runDir.resolve(MetricsLog.FILE_NAME));
      List<MetricsRecord> disturbed = MetricsLog.read(s.manager.runs().resolve(b).resolve(MetricsLog.FILE_NAME));
      assertEquals(results(undisturbed), results(disturbed));
      assertEquals(2, s.json(s.get("/api/jobs"), 200).size());
    }
  }

  /** Every metric but the timings, which differ from run to run. */
  private static List<Map<String, Double>> results(List<MetricsRecord> records) {
    List<Map<String, Double>> out = new ArrayList<>();
    for (MetricsRecord r : records) {
      Map<String, Double> m = new LinkedHashMap<>(r.values());
      m.keySet().removeIf(k -> k.startsWith("time/") || k.equals("tokens_per_s"));
      m.put("iteration", (double) r.iteration());
      out.add(m);
    }
    return out;
  }

  /** n requests of every bad kind, aimed at the running job where they could touch it; their statuses. */
  private static List<Integer> badRequests(ServeFixture s, String running, int n) throws Exception {
    String big = "{\"command\": \"ppo\", \"config\": {\"x\": \"" + "a".repeat((1 << 20) + 10) + "\"}}";
    ObjectNode outside = s.ppoConfig(2, false);
    ((ObjectNode) outside.get("data")).put("prompts", "/etc/passwd");
    String outsideBody = ServeFixture.JSON.writeValueAsString(Map.of("command", "ppo", "config", outside));
    List<HttpRequest> kinds = List.of(
        HttpRequest.newBuilder(s.uri("/api/jobs/" + running + "/cancel")).POST(HttpRequest.BodyPublishers.noBody())
            .build(),
        HttpRequest.newBuilder(s.uri("/api/jobs/" + running + "/cancel")).header("Authorization", "Bearer wrong")
            .POST(HttpRequest.BodyPublishers.noBody()).build(),
        // The right token and a wrong one: which one counts is ambiguous, so neither does.
        s.request("/api/jobs/" + running + "/cancel").header("Authorization", "Bearer wrong")
            .POST(HttpRequest.BodyPublishers.noBody()).build(),
        s.request("/api/jobs").POST(HttpRequest.BodyPublishers.ofString("{\"command\": \"ppo\", \"config\": {")).build(),
        s.request("/api/jobs").POST(HttpRequest.BodyPublishers.ofString("{\"command\": \"ppo\", \"config\": "
            + "{\"ppo\": {\"kl_coeff\": 1}}}")).build(),
        s.request("/api/jobs").POST(HttpRequest.BodyPublishers.ofString(outsideBody)).build(),
        s.request("/api/jobs").POST(HttpRequest.BodyPublishers.ofString(big)).build(),
        s.request("/api/jobs/nope/cancel").POST(HttpRequest.BodyPublishers.noBody()).build(),
        s.request("/api/jobs/" + running + "/metrics").DELETE().build());
    List<Integer> statuses = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      HttpRequest r = kinds.get(i % kinds.size());
      try {
        statuses.add(s.http.send(r, HttpResponse.BodyHandlers.ofString()).statusCode());
      } catch (java.io.IOException e) {
        // The server may close the connection of a body it refused (413) before reading it all.
        statuses.add(-1);
      }
    }
    return statuses;
  }

  @Test
  void cancelStopsAtAnIterationBoundaryWithACheckpointAndResumeFinishes() throws Exception {
    try (ServeFixture s = new ServeFixture(dir)) {
      String id = s.submit(s.ppoConfig(12, true));
      s.awaitIteration(id, 2);
      JsonNode answer = s.json(s.post("/api/jobs/" + id + "/cancel", ""), 200);
      assertEquals(id, answer.get("id").asText());
      JsonNode cancelled = s.awaitState(id, "cancelled");
      long at = cancelled.get("iteration").asLong();
      assertTrue(at >= 2 && at < 12, cancelled::toString);
      Path runDir = Path.of(cancelled.get("run_dir").asText());
      assertEquals(new RunCheckpoints(runDir, Integer.MAX_VALUE).pathFor(at),
          new RunCheckpoints(runDir, Integer.MAX_VALUE).latest().orElseThrow(), "a checkpoint of the last iteration");
      assertEquals(409, s.post("/api/jobs/" + id + "/cancel", "").statusCode());

      s.json(s.post("/api/jobs/" + id + "/resume", ""), 200);
      s.awaitState(id, "succeeded");
      List<Long> its = MetricsLog.read(runDir.resolve(MetricsLog.FILE_NAME)).stream().map(MetricsRecord::iteration)
          .toList();
      assertEquals(12, its.size());
      assertEquals(1L, its.getFirst());
      assertEquals(12L, its.getLast());

      assertEquals(200, s.send(s.request("/api/jobs/" + id).DELETE().build()).statusCode());
      assertFalse(Files.exists(runDir));
      assertEquals(404, s.get("/api/jobs/" + id).statusCode());
    }
  }

  @Test
  void aRestartedServiceMarksItsRunningJobInterruptedAndResumesIt() throws Exception {
    String id;
    Path jobFile;
    try (ServeFixture s = new ServeFixture(dir)) {
      id = s.submit(s.ppoConfig(12, true));
      s.awaitIteration(id, 2);
      jobFile = s.manager.runs().resolve(id).resolve(JobManager.JOB_FILE);
    }
    // Stopping the service stopped the job at an iteration boundary. A killed service leaves
    // "running" in job.json instead: the next one must see it as interrupted either way.
    String record = Files.readString(jobFile);
    assertTrue(record.contains("\"INTERRUPTED\""), record);
    Files.writeString(jobFile, record.replace("\"INTERRUPTED\"", "\"RUNNING\""));
    try (ServeFixture s = new ServeFixture(dir)) {
      JsonNode jobs = s.json(s.get("/api/jobs"), 200);
      assertEquals(1, jobs.size());
      assertEquals("interrupted", jobs.get(0).get("state").asText());
      long at = jobs.get(0).get("iteration").asLong();
      assertTrue(at >= 2 && at < 12, jobs::toString);
      s.json(s.post("/api/jobs/" + id + "/resume", ""), 200);
      s.awaitState(id, "succeeded");
      List<Long> its = MetricsLog.read(s.manager.runs().resolve(id).resolve(MetricsLog.FILE_NAME)).stream()
          .map(MetricsRecord::iteration).toList();
      assertEquals(12, its.size());
      assertEquals(12L, its.getLast());
      assertTrue(s.get("/api/jobs/" + id + "/log").body().contains("interrupted"));
    }
  }

  @Test
  void everyEndpointButHealthNeedsTheToken() throws Exception {
    try (ServeFixture s = new ServeFixture(dir)) {
      String id = s.submit(s.ppoConfig(1, false));
      s.awaitState(id, "succeeded");
      Path tokenFile = s.manager.runs().resolve(ServeToken.FILE_NAME);
      assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
          Files.getPosixFilePermissions(tokenFile)));
      List<String[]> endpoints = List.of(new String[] {"GET", "/api/jobs"}, new String[] {"POST", "/api/jobs"},
          new String[] {"GET", "/api/jobs/" + id}, new String[] {"DELETE", "/api/jobs/" + id},
          new String[] {"GET", "/api/jobs/" + id + "/metrics"}, new String[] {"GET", "/api/jobs/" + id + "/events"},
          new String[] {"GET", "/api/jobs/" + id + "/samples"}, new String[] {"GET", "/api/jobs/" + id + "/log"},
          new String[] {"GET", "/api/jobs/" + id + "/config"}, new String[] {"POST", "/api/jobs/" + id + "/cancel"},
          new String[] {"POST", "/api/jobs/" + id + "/resume"}, new String[] {"GET", "/metrics"});
      for (String[] e : endpoints) {
        for (String auth : new String[] {null, "Bearer wrong", "Basic " + s.token, "Bearer " + s.token + "x"}) {
          HttpRequest.Builder r = HttpRequest.newBuilder(s.uri(e[1])).timeout(ServeFixture.TIMEOUT)
              .method(e[0], HttpRequest.BodyPublishers.ofString("{}"));
          if (auth != null) r.header("Authorization", auth);
          HttpResponse<String> answer = s.send(r.build());
          assertEquals(401, answer.statusCode(), e[0] + " " + e[1] + " with " + auth);
          assertTrue(answer.body().contains("bearer token"), answer::body);
        }
      }
      HttpResponse<String> health = s.send(HttpRequest.newBuilder(s.uri("/health")).GET().build());
      assertEquals(200, health.statusCode());
      // Nothing the unauthorised requests asked for happened.
      assertEquals("succeeded", s.json(s.get("/api/jobs/" + id), 200).get("state").asText());
      assertEquals(1, s.json(s.get("/api/jobs"), 200).size());
    }
  }

  @Test
  void pathsOutsideTheRootsAreForbiddenAndNothingIsCreated() throws Exception {
    try (ServeFixture s = new ServeFixture(dir)) {
      Path outside = Files.createDirectories(dir.resolve("outside"));
      Files.writeString(outside.resolve("prompts.txt"), "one two\n");
      Path link = s.inputs.resolve("link-out");
      Files.createSymbolicLink(link, outside);
      Map<String, String> cases = new LinkedHashMap<>();
      cases.put("data.prompts", "/etc/passwd");
      cases.put("model.path", s.inputs + "/../outside");
      cases.put("data.eval_prompts", link + "/prompts.txt");
      cases.put("run.out", s.runs + "/../outside/run");
      cases.put("run.out ", link + "/run");
      for (Map.Entry<String, String> c : cases.entrySet()) {
        String key = c.getKey().strip();
        ObjectNode config = s.ppoConfig(1, false);
        ((ObjectNode) config.get(key.substring(0, key.indexOf('.')))).put(key.substring(key.indexOf('.') + 1),
            c.getValue());
        HttpResponse<String> r = s.post("/api/jobs", ServeFixture.JSON.writeValueAsString(
            Map.of("command", "ppo", "config", config)));
        assertEquals(403, r.statusCode(), c + ": " + r.body());
        String message = s.json(r, 403).get("error").asText();
        assertTrue(message.startsWith(key + ": ") && message.contains("outside the allowed roots"), message);
        assertFalse(message.contains("\n"));
      }
      assertEquals(0, s.json(s.get("/api/jobs"), 200).size());
      assertFalse(Files.exists(outside.resolve("run")));
      try (Stream<Path> runs = Files.list(s.manager.runs())) {
        assertEquals(List.of(ServeToken.FILE_NAME), runs.map(p -> p.getFileName().toString()).toList());
      }
    }
  }

  @Test
  void malformedBodiesAndConfigsAre400AndBigBodies413WithOneLineMessages() throws Exception {
    try (ServeFixture s = new ServeFixture(dir)) {
      Map<String, String> json = new LinkedHashMap<>();
      json.put("{\"command\": \"ppo\", \"config\": {", "request body: invalid JSON");
      json.put("[1, 2]", "request body: expected a mapping");
      json.put("{\"command\": \"ppo\", \"config\": {}, \"extra\": 1}", "request body: unknown key 'extra'");
      json.put("{\"config\": {}}", "request body: command is required");
      json.put("{\"command\": \"kto\", \"config\": {}}", "command must be one of sft, train-rm, dpo, ppo");
      json.put("{\"command\": \"ppo\", \"config\": {\"ppo\": {\"kl_coeff\": 0.1}}}", "kl_coeff");
      json.put("{\"command\": \"ppo\", \"config\": {\"ppo\": {\"kl_coef\": \"lots\"}}}", "ppo.kl_coef");
      json.put("{\"command\": \"ppo\", \"config\": {}}", "model.path is required");
      for (Map.Entry<String, String> c : json.entrySet()) {
        HttpResponse<String> r = s.post("/api/jobs", c.getKey());
        String message = s.json(r, 400).get("error").asText();
        assertTrue(message.contains(c.getValue()), c.getKey() + " -> " + message);
        assertFalse(message.contains("\n"), message);
      }
      HttpResponse<String> yaml = s.send(s.request("/api/jobs").header("Content-Type", "application/yaml")
          .POST(HttpRequest.BodyPublishers.ofString("command: ppo\nconfig: {ppo: [\n")).build());
      assertTrue(s.json(yaml, 400).get("error").asText().startsWith("request body: invalid YAML"), yaml::body);

      // A valid YAML body is accepted (and the unknown-key message suggests the key meant).
      String yamlBody = "command: ppo\nconfig:\n" + new com.fasterxml.jackson.dataformat.yaml.YAMLMapper()
          .writeValueAsString(s.ppoConfig(1, false)).replace("---\n", "").indent(2);
      HttpResponse<String> ok = s.send(s.request("/api/jobs").header("Content-Type", "application/yaml")
          .POST(HttpRequest.BodyPublishers.ofString(yamlBody)).build());
      String id = s.json(ok, 201).get("id").asText();
      s.awaitState(id, "succeeded");

      // A model directory whose config fits but whose weights are missing passes the submit
      // checks (they read no weights); the job fails, saying why.
      Path noWeights = Files.createDirectories(s.inputs.resolve("no-weights"));
      try (Stream<Path> files = Files.list(s.inputs.resolve("sft"))) {
        for (Path f : files.toList()) {
          if (!f.getFileName().toString().endsWith(".safetensors")) Files.copy(f, noWeights.resolve(f.getFileName()));
        }
      }
      ObjectNode noModel = s.ppoConfig(1, false);
      ((ObjectNode) noModel.get("model")).put("path", noWeights.toString());
      String failing = s.submit(noModel);
      JsonNode failed = s.awaitState(failing, "failed");
      assertTrue(failed.get("error").asText().contains(s.inputs.toRealPath().toString()), failed::toString);
      assertFalse(failed.get("error").asText().contains("\n"));
      assertTrue(s.get("/api/jobs/" + failing + "/log").body().contains("failed: "));

      HttpResponse<String> big = s.post("/api/jobs", "{\"command\": \"ppo\", \"pad\": \"" + "x".repeat(1 << 20) + "\"}");
      assertEquals(413, big.statusCode(), big::body);
      assertTrue(s.json(big, 413).get("error").asText().contains("over the limit of 1048576 bytes"));
      assertEquals(2, s.json(s.get("/api/jobs"), 200).size(), "no job from a refused request");
    }
  }
}
