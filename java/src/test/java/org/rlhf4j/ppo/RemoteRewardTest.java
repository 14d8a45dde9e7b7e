package org.rlhf4j.ppo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.config.ConfigException;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.config.RewardSection;
import org.rlhf4j.testing.TinyCheckpoints;

/** reward.kind remote against a server on 127.0.0.1: OpenRLHF's contract, retries, timeouts, bad replies. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RemoteRewardTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** What the server answers: status and body for a request's JSON. */
  record Reply(int status, String body) {}

  private HttpServer server;
  private final ExecutorService handlers = Executors.newVirtualThreadPerTaskExecutor();
  private final List<JsonNode> requests = Collections.synchronizedList(new ArrayList<>());
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger maxInFlight = new AtomicInteger();
  /** Released at the end of each test so a handler that stalls returns before the server stops. */
  private final CountDownLatch release = new CountDownLatch(1);
  @TempDir Path tmp;

  private URI serve(Function<JsonNode, Reply> answer) throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setExecutor(handlers);
    server.createContext("/reward", ex -> handle(ex, answer));
    server.start();
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/reward");
  }

  private void handle(HttpExchange ex, Function<JsonNode, Reply> answer) throws IOException {
    try (ex) {
      Reply r;
      maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
      try {
        JsonNode req = JSON.readTree(ex.getRequestBody());
        requests.add(req);
        r = answer.apply(req);
      } finally {
        // Before the reply leaves: the client's next request must not count as overlapping this one.
        inFlight.decrementAndGet();
      }
      byte[] out = r.body().getBytes(StandardCharsets.UTF_8);
      ex.sendResponseHeaders(r.status(), out.length);
      ex.getResponseBody().write(out);
    }
  }

  @AfterEach
  void stop() {
    release.countDown();
    if (server != null) server.stop(0);
    handlers.close();
  }

  private static RemoteReward remote(URI url, Duration timeout, int retries, int batchSize, int concurrency) {
    return new RemoteReward(url, timeout, retries, batchSize, concurrency, Duration.ofMillis(10));
  }

  /** Rewards the number of characters of each query; extra_logs carries each label's length. */
  private static Reply lengths(JsonNode req) {
    StringBuilder rewards = new StringBuilder();
    StringBuilder labels = new StringBuilder();
    for (int i = 0; i < req.get("query").size(); i++) {
      String sep = i == 0 ? "" : ",";
      rewards.append(sep).append(req.get("query").get(i).textValue().length());
      labels.append(sep).append(req.get("labels").get(i).isNull() ? -1 : req.get("labels").get(i).asText().length());
    }
    return new Reply(200, "{\"rewards\": [" + rewards + "], \"scores\": [" + rewards
        + "], \"extra_logs\": {\"label_len\": [" + labels + "], \"server\": 7}}");
  }

  @Test
  void scoresInOrderAcrossBatchesWithBoundedConcurrencyAndLogsExtras() throws IOException {
    URI url = serve(req -> {
      try {
        Thread.sleep(20); // lets requests overlap, so the bound is exercised
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return lengths(req);
    });
    List<String> prompts = List.of("a", "bb", "ccc", "dddd", "eeeee", "f", "gg");
    List<String> responses = List.of("1", "22", "333", "", "5", "66", "777");
    List<Map<String, Object>> fields = List.of(Map.of("label", "xy"), Map.of("answer", "xyz"), Map.of(), Map.of(),
        Map.of(), Map.of(), Map.of("label", "q", "answer", "ignored"));
    try (RemoteReward r = remote(url, Duration.ofSeconds(10), 0, 2, 2)) {
      BatchReward.Result res = r.scoreAll(prompts, responses, fields);
      assertArrayEquals(new float[] {2, 4, 6, 4, 6, 3, 5}, res.rewards());
      assertArrayEquals(res.rewards(), res.logs().get("scores"));
      assertArrayEquals(new float[] {2, 3, -1, -1, -1, -1, 1}, res.logs().get("label_len"));
      assertArrayEquals(new float[] {7, 7, 7, 7, 7, 7, 7}, res.logs().get("server"));
    }
    assertEquals(4, requests.size(), "7 samples in requests of 2");
    assertTrue(maxInFlight.get() <= 2, "at most 2 requests in flight, saw " + maxInFlight.get());
    JsonNode first = requests.stream().filter(q -> q.get("prompts").get(0).textValue().equals("a")).findFirst().orElseThrow();
    assertEquals("a1", first.get("query").get(0).textValue(), "query is the full text, prompt then response");
    assertEquals("xy", first.get("labels").get(0).textValue());
  }

  @Test
  void retriesServerErrorsThenSucceeds() throws IOException {
    AtomicInteger calls = new AtomicInteger();
    URI url = serve(req -> calls.incrementAndGet() <= 2 ? new Reply(500, "overloaded") : lengths(req));
    try (RemoteReward r = remote(url, Duration.ofSeconds(10), 2, 8, 1)) {
      assertArrayEquals(new float[] {2}, r.scoreAll(List.of("p"), List.of("r"), List.of(Map.of())).rewards());
    }
    assertEquals(3, calls.get());
  }

  @Test
  void failsInOneLineNamingUrlAndLastErrorAfterTheLastRetry() throws IOException {
    URI url = serve(req -> new Reply(500, "database\ndown"));
    try (RemoteReward r = remote(url, Duration.ofSeconds(10), 1, 8, 1)) {
      var e = assertThrows(IllegalStateException.class, () -> r.score("p", "r", Map.of()));
      assertEquals("remote reward " + url + " failed after 2 tries: HTTP 500 'database down'", e.getMessage());
    }
    assertEquals(2, requests.size());
  }

  @Test
  void aServerThatStallsTimesOut() throws IOException {
    URI url = serve(req -> {
      try {
        release.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return new Reply(200, "{\"rewards\": [1]}");
    });
    try (RemoteReward r = remote(url, Duration.ofMillis(300), 1, 8, 1)) {
      var e = assertThrows(IllegalStateException.class, () -> r.score("p", "r", Map.of()));
      assertTrue(e.getMessage().endsWith("failed after 2 tries: no reply within 300 ms"), e.getMessage());
    }
  }

  @Test
  void wrongLengthsAndNonJsonAndNonNumbersAreClearErrors() throws IOException {
    AtomicInteger kind = new AtomicInteger();
    URI url = serve(req -> switch (kind.get()) {
      case 0 -> new Reply(200, "{\"rewards\": [1.0]}");
      case 1 -> new Reply(200, "<html>Bad gateway</html>");
      case 2 -> new Reply(200, "{\"rewards\": [1, \"x\"]}");
      case 3 -> new Reply(200, "{\"scores\": [1, 2]}");
      default -> new Reply(200, "{\"rewards\": [1, 2], \"extra_logs\": {\"k\": [1]}}");
    });
    String[] expected = {"\"rewards\" has 1 values for 2 samples", "reply is not JSON: '<html>Bad gateway</html>'",
        "\"rewards\"[1] is not a finite number: '\"x\"'", "reply has no \"rewards\" list",
        "\"extra_logs.k\" has 1 values for 2 samples"};
    try (RemoteReward r = remote(url, Duration.ofSeconds(10), 0, 8, 1)) {
      for (int k = 0; k < expected.length; k++) {
        kind.set(k);
        var e = assertThrows(IllegalStateException.class,
            () -> r.scoreAll(List.of("p", "q"), List.of("r", "s"), List.of(Map.of(), Map.of())));
        assertTrue(e.getMessage().endsWith("failed after 1 tries: " + expected[k]), e.getMessage());
      }
    }
  }

  @Test
  void aServerThatIsNotThereFailsAfterTheRetries() throws IOException {
    URI url = serve(req -> new Reply(200, "{}"));
    server.stop(0);
    try (RemoteReward r = remote(url, Duration.ofSeconds(5), 1, 8, 1)) {
      var e = assertThrows(IllegalStateException.class, () -> r.score("p", "r", Map.of()));
      assertTrue(e.getMessage().startsWith("remote reward " + url + " failed after 2 tries: "), e.getMessage());
    }
  }

  @Test
  void configNeedsAnHttpUrlAndReadsTheRemoteKeys() throws IOException {
    Path file = tmp.resolve("ppo.yaml");
    Files.writeString(file, """
        model: {path: m}
        data: {prompts: p.jsonl}
        reward: {kind: remote, url: 'http://127.0.0.1:9/score', timeout: 5s, retries: 2, batch_size: 16,
                 max_concurrency: 3}
        """);
    RewardSection r = PpoRunConfig.loader().load(file, List.of()).reward();
    assertEquals(RewardSection.Kind.REMOTE, r.kind());
    assertEquals(Duration.ofSeconds(5), r.timeout());
    assertEquals(List.of(2, 16, 3), List.of(r.retries(), r.batchSize(), r.maxConcurrency()));
    var missing = assertThrows(ConfigException.class,
        () -> PpoRunConfig.loader().load(file, List.of("reward.url=null")));
    assertTrue(missing.getMessage().contains("reward.url is required when reward.kind is remote"), missing.getMessage());
    var bad = assertThrows(ConfigException.class,
        () -> PpoRunConfig.loader().load(file, List.of("reward.url=ftp://x/y")));
    assertTrue(bad.getMessage().contains("reward.url must be an http:// or https:// URL"), bad.getMessage());
    var unused = assertThrows(ConfigException.class,
        () -> PpoRunConfig.loader().load(file, List.of("reward.kind=function", "reward.function=a.B")));
    assertTrue(unused.getMessage().contains("reward.url is set but reward.kind is function"), unused.getMessage());
  }

  @Test
  void aPpoIterationIsScoredByTheServiceAndLogsItsExtras() throws IOException {
    URI url = serve(RemoteRewardTest::lengths);
    Path model = tmp.resolve("model");
    TinyCheckpoints.write(model, TinyCheckpoints.gpt2());
    Path prompts = tmp.resolve("prompts.jsonl");
    Files.writeString(prompts, "{\"prompt\": \"the food was\", \"label\": \"good\"}\n".repeat(20));
    Path file = tmp.resolve("ppo.yaml");
    Files.writeString(file, """
        model: {path: '%s'}
        data: {prompts: '%s', max_prompt_tokens: 16}
        run: {out: '%s', seed: 5}
        reward: {kind: remote, url: '%s', batch_size: 3, max_concurrency: 2}
        generation: {max_new_tokens: 6, num_samples: 2}
        ppo: {preset: grpo, minibatch_size: 8, micro_batch_size: 8}
        schedule: {rollout_batch: 4, eval_prompts: 0}
        """.formatted(model, prompts, tmp.resolve("run"), url));
    PpoRunConfig c = PpoRunConfig.loader().load(file, List.of());
    Map<String, Double> m;
    try (PpoTrainer t = new PpoTrainer(c, PpoSetup.load(c))) {
      m = t.step().metrics();
    }
    List<String> queries = new ArrayList<>();
    for (JsonNode r : requests) {
      for (int i = 0; i < r.get("query").size(); i++) {
        queries.add(r.get("query").get(i).textValue());
        assertEquals("good", r.get("labels").get(i).textValue());
        assertTrue(queries.getLast().startsWith(r.get("prompts").get(i).textValue()));
      }
    }
    assertEquals(8, queries.size(), "4 prompts x 2 samples");
    assertEquals(3, requests.size(), "in requests of 3");
    double mean = queries.stream().mapToInt(String::length).average().orElseThrow();
    assertEquals(mean, m.get("objective/scores_raw"), 1e-4, "the service's rewards are the scores");
    assertEquals(4.0, m.get("reward/label_len"), 1e-6);
    assertEquals(7.0, m.get("reward/server"), 1e-6);
    assertEquals(mean, m.get("reward/scores"), 1e-4);
  }
}
