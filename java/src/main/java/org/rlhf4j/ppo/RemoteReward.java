package org.rlhf4j.ppo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.rlhf4j.config.RewardSection;

/**
 * Scores by an HTTP reward service ({@code reward.kind: remote}, OpenRLHF's contract): POSTs
 * {@code {"query": [prompt + response], "prompts": [...], "labels": [...]}} and reads
 * {@code {"rewards": [...]}}. A rollout is split into requests of batchSize samples, at most
 * maxConcurrency in flight; a failed request is tried again after 1, 2, 4... backoff units.
 * Thread-safe; close it to release the HTTP client.
 */
public final class RemoteReward implements BatchReward, AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final URI url;
  private final Duration timeout;
  private final int retries;
  private final int batchSize;
  private final int maxConcurrency;
  private final Duration backoff;
  private final HttpClient client;

  /**
   * @param backoff the wait before the first retry; each further retry waits twice as long
   */
  public RemoteReward(URI url, Duration timeout, int retries, int batchSize, int maxConcurrency, Duration backoff) {
    if (retries < 0 || batchSize < 1 || maxConcurrency < 1 || !timeout.isPositive() || backoff.isNegative()) {
      throw new IllegalArgumentException("remote reward: retries >= 0, batch_size >= 1, max_concurrency >= 1, "
          + "timeout > 0 and backoff >= 0 are required");
    }
    this.url = url;
    this.timeout = timeout;
    this.retries = retries;
    this.batchSize = batchSize;
    this.maxConcurrency = maxConcurrency;
    this.backoff = backoff;
    // HTTP/1.1: no h2c upgrade attempt, which some Python servers mishandle.
    this.client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(timeout).build();
  }

  /** The scorer reward (kind remote) describes, with a 1 s backoff unit. */
  public static RemoteReward of(RewardSection reward) {
    return new RemoteReward(URI.create(reward.url()), reward.timeout(), reward.retries(), reward.batchSize(),
        reward.maxConcurrency(), Duration.ofSeconds(1));
  }

  /**
   * @throws IllegalStateException naming the URL and the last error once a request has failed
   *     retries + 1 times
   */
  @Override
  public Result scoreAll(List<String> prompts, List<String> responses, List<Map<String, Object>> fields) {
    int n = prompts.size();
    if (responses.size() != n || fields.size() != n) {
      throw new IllegalArgumentException("remote reward: " + n + " prompts, " + responses.size() + " responses, "
          + fields.size() + " field rows");
    }
    List<Future<Result>> parts = new ArrayList<>();
    try (ExecutorService pool = Executors.newFixedThreadPool(maxConcurrency, Thread.ofVirtual().factory())) {
      for (int from = 0; from < n; from += batchSize) {
        int lo = from;
        int hi = Math.min(n, from + batchSize);
        parts.add(pool.submit(() -> request(prompts.subList(lo, hi), responses.subList(lo, hi), fields.subList(lo, hi))));
      }
      return join(parts, n);
    }
  }

  private Result join(List<Future<Result>> parts, int n) {
    float[] rewards = new float[n];
    Map<String, float[]> logs = new LinkedHashMap<>();
    int at = 0;
    for (Future<Result> f : parts) {
      Result r;
      try {
        r = f.get();
      } catch (InterruptedException e) {
        parts.forEach(p -> p.cancel(true));
        Thread.currentThread().interrupt();
        throw new IllegalStateException("remote reward " + url + ": interrupted", e);
      } catch (ExecutionException e) {
        parts.forEach(p -> p.cancel(true));
        if (e.getCause() instanceof RuntimeException re) throw re;
        throw new IllegalStateException("remote reward " + url + ": " + e.getCause(), e.getCause());
      }
      int len = r.rewards().length;
      System.arraycopy(r.rewards(), 0, rewards, at, len);
      for (var e : r.logs().entrySet()) {
        System.arraycopy(e.getValue(), 0, logs.computeIfAbsent(e.getKey(), k -> new float[n]), at, len);
      }
      at += len;
    }
    return new Result(rewards, logs);
  }

  private Result request(List<String> prompts, List<String> responses, List<Map<String, Object>> fields)
      throws InterruptedException {
    String body = body(prompts, responses, fields);
    String lastError = null;
    for (int attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) Thread.sleep(backoff.multipliedBy(1L << Math.min(attempt - 1, 20)));
      try {
        HttpRequest req = HttpRequest.newBuilder(url).timeout(timeout).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        HttpResponse<String> resp = client.send(req, HttpResponse.BodyHandlers.ofString());
        if (resp.statusCode() / 100 != 2) {
          lastError = "HTTP " + resp.statusCode() + " " + RemoteReply.excerpt(resp.body());
          continue;
        }
        return RemoteReply.parse(resp.body(), prompts.size());
      } catch (HttpTimeoutException e) {
        lastError = "no reply within " + timeout.toMillis() + " ms";
      } catch (IOException | IllegalArgumentException e) {
        lastError = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
      }
    }
    throw new IllegalStateException("remote reward " + url + " failed after " + (retries + 1) + " tries: " + lastError);
  }

  /** The request's JSON: full texts as query; labels from the label field, else answer, else null. */
  private static String body(List<String> prompts, List<String> responses, List<Map<String, Object>> fields) {
    ObjectNode root = JSON.createObjectNode();
    ArrayNode query = root.putArray("query");
    ArrayNode ps = root.putArray("prompts");
    ArrayNode labels = root.putArray("labels");
    for (int i = 0; i < prompts.size(); i++) {
      query.add(prompts.get(i) + responses.get(i));
      ps.add(prompts.get(i));
      Map<String, Object> f = fields.get(i) == null ? new HashMap<>() : fields.get(i);
      Object label = f.containsKey("label") ? f.get("label") : f.get("answer");
      labels.add(JSON.valueToTree(label));
    }
    return root.toString();
  }

  @Override
  public void close() {
    client.close();
  }
}
