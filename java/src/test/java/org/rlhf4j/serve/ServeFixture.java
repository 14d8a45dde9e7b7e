package org.rlhf4j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.rlhf4j.testing.SlowReward;
import org.rlhf4j.testing.TinyPpo;

/**
 * A job manager and its HTTP server on 127.0.0.1 (a free port) over dir/runs, with the tiny PPO
 * inputs (model, prompts) in dir/inputs as an allowed root; a real HTTP client with the token.
 */
final class ServeFixture implements AutoCloseable {
  static final ObjectMapper JSON = new ObjectMapper();
  static final Duration TIMEOUT = Duration.ofSeconds(120);

  final Path dir;
  final Path runs;
  final Path inputs;
  final JobManager manager;
  final JobServer server;
  final String token;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  ServeFixture(Path dir) throws IOException {
    this.dir = dir;
    this.runs = dir.resolve("runs");
    this.inputs = dir.resolve("inputs");
    if (!Files.exists(inputs.resolve("ppo.yaml"))) {
      Files.createDirectories(inputs);
      TinyPpo.configFile(inputs);
    }
    this.manager = new JobManager(runs, List.of(inputs));
    ServeToken t = ServeToken.load(manager.runs(), null);
    this.token = t.value();
    this.server = new JobServer(manager, t, new JobServer.Options("127.0.0.1", 0, 1 << 20)).start();
  }

  /** The tiny PPO config without run.out (the service chooses it), with iterations and reward set. */
  ObjectNode ppoConfig(int iterations, boolean slow) {
    try {
      ObjectNode tree = (ObjectNode) new YAMLMapper().readTree(inputs.resolve("ppo.yaml").toFile());
      ((ObjectNode) tree.get("run")).remove("out");
      ((ObjectNode) tree.get("schedule")).put("iterations", iterations);
      if (slow) ((ObjectNode) tree.get("reward")).put("function", SlowReward.class.getName());
      return tree;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  URI uri(String path) {
    return URI.create("http://127.0.0.1:" + server.port() + path);
  }

  HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(uri(path)).timeout(TIMEOUT).header("Authorization", "Bearer " + token);
  }

  HttpResponse<String> send(HttpRequest r) {
    try {
      return http.send(r, HttpResponse.BodyHandlers.ofString());
    } catch (IOException | InterruptedException e) {
      throw new AssertionError(r + ": " + e, e);
    }
  }

  HttpResponse<String> get(String path) {
    return send(request(path).GET().build());
  }

  HttpResponse<String> post(String path, String body) {
    return send(request(path).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build());
  }

  JsonNode json(HttpResponse<String> r, int status) {
    assertEquals(status, r.statusCode(), r::body);
    try {
      return JSON.readTree(r.body());
    } catch (IOException e) {
      throw new AssertionError("not JSON: " + r.body(), e);
    }
  }

  /** Submits a PPO job and returns its id. */
  String submit(JsonNode config) throws IOException {
    String body = JSON.writeValueAsString(Map.of("command", "ppo", "config", config));
    return json(post("/api/jobs", body), 201).get("id").asText();
  }

  /** One Server-Sent Event: its type and data. */
  record Event(String type, JsonNode data) {}

  /** Reads the job's event stream until the server ends it (the job finished), at most TIMEOUT. */
  List<Event> events(String id) throws IOException, InterruptedException {
    HttpResponse<java.io.InputStream> r = http.send(request("/api/jobs/" + id + "/events").GET().build(),
        HttpResponse.BodyHandlers.ofInputStream());
    assertEquals(200, r.statusCode());
    List<Event> out = new ArrayList<>();
    try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
      String type = null;
      for (String line; (line = in.readLine()) != null; ) {
        if (line.startsWith("event: ")) type = line.substring(7);
        if (line.startsWith("data: ")) out.add(new Event(type, JSON.readTree(line.substring(6))));
      }
    }
    return out;
  }

  /** Waits (bounded) until the job is in state; returns its JSON. */
  JsonNode awaitState(String id, String state) throws InterruptedException {
    long end = System.nanoTime() + TIMEOUT.toNanos();
    JsonNode j = null;
    while (System.nanoTime() < end) {
      j = json(get("/api/jobs/" + id), 200);
      if (j.get("state").asText().equals(state)) return j;
      Thread.sleep(50);
    }
    fail("job " + id + " did not reach " + state + ": " + j);
    return j;
  }

  /** Waits (bounded) until the job has finished at least n iterations. */
  JsonNode awaitIteration(String id, long n) throws InterruptedException {
    long end = System.nanoTime() + TIMEOUT.toNanos();
    JsonNode j = null;
    while (System.nanoTime() < end) {
      j = json(get("/api/jobs/" + id), 200);
      if (j.get("iteration").asLong() >= n) return j;
      Thread.sleep(20);
    }
    fail("job " + id + " did not reach iteration " + n + ": " + j);
    return j;
  }

  @Override
  public void close() {
    try {
      server.close();
    } finally {
      manager.close();
    }
  }
}
