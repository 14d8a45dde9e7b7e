package org.rlhf4j.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.rlhf4j.metrics.MetricsRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP face of a {@link JobManager} (Jetty's core server): the JSON API under /api/jobs,
 * Server-Sent Events per job, /metrics in Prometheus' text format, /health, and the dashboard at
 * /. Every path but /health and the dashboard page (static, no data; it asks for the token)
 * needs the bearer token. Bodies over the limit get 413 (read and dropped up to 4x the limit, so
 * the client can read the answer; unread beyond); malformed bodies and configs
 * 400, paths outside the roots 403, each with {"error": one line}. Requests are handled on the
 * server's threads, never on a job's, so no request can disturb a running job; event streams
 * hold no thread at all ({@link EventStreams}: async writes, capped per token and in all, 429
 * beyond), so /health and the API answer however many streams are open.
 */
public final class JobServer implements AutoCloseable {
  /**
   * Where and how to listen.
   *
   * @param maxStreams open event streams in all, beyond which a new one gets 429
   * @param maxStreamsPerToken open event streams of one token, beyond which a new one gets 429
   */
  public record Options(String host, int port, long maxBodyBytes, int maxStreams, int maxStreamsPerToken) {
    public static final long DEFAULT_MAX_BODY = 1 << 20;
    public static final int DEFAULT_MAX_STREAMS = 256;
    public static final int DEFAULT_MAX_STREAMS_PER_TOKEN = 128;

    public Options {
      if (port < 0 || port > 65535) throw new IllegalArgumentException("--port must be 0-65535, got " + port);
      if (maxBodyBytes < 1) throw new IllegalArgumentException("the body limit must be positive");
      if (maxStreams < 1 || maxStreamsPerToken < 1) throw new IllegalArgumentException("stream caps must be positive");
    }

    /** The default stream caps. */
    public Options(String host, int port, long maxBodyBytes) {
      this(host, port, maxBodyBytes, DEFAULT_MAX_STREAMS, DEFAULT_MAX_STREAMS_PER_TOKEN);
    }
  }

  private static final Logger LOG = LoggerFactory.getLogger(JobServer.class);
  private static final ObjectMapper OUT = new ObjectMapper();
  private static final JsonMapper JSON = JsonMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .build();
  private static final YAMLMapper YAML = YAMLMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .build();
  private static final Pattern JOB_PATH = Pattern.compile("/api/jobs/([A-Za-z0-9_-]{1,64})(?:/([a-z]+))?");

  private final JobManager manager;
  private final ServeToken token;
  private final Options options;
  private final Server server;
  private final ServerConnector connector;
  private final EventStreams streams;
  private final byte[] dashboard;

  public JobServer(JobManager manager, ServeToken token, Options options) {
    this.manager = manager;
    this.token = token;
    this.options = options;
    QueuedThreadPool threads = new QueuedThreadPool(200, 4);
    threads.setName("rlhf4j-http");
    threads.setDaemon(true);
    this.server = new Server(threads);
    this.connector = new ServerConnector(server);
    connector.setHost(options.host());
    connector.setPort(options.port());
    connector.setIdleTimeout(TimeUnit.SECONDS.toMillis(4 * EventStreams.KEEPALIVE_SECONDS));
    this.streams = new EventStreams(manager, options.maxStreams(), options.maxStreamsPerToken());
    server.addConnector(connector);
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        JobServer.this.handle(request, response, callback);
        return true;
      }
    });
    try (InputStream in = JobServer.class.getResourceAsStream("dashboard.html")) {
      if (in == null) throw new IllegalStateException("dashboard.html is missing from the jar");
      this.dashboard = in.readAllBytes();
    } catch (IOException e) {
      throw new IllegalStateException("reading dashboard.html: " + e.getMessage(), e);
    }
  }

  /** Starts listening; returns this. */
  public JobServer start() throws IOException {
    try {
      server.start();
    } catch (IOException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException(e.getMessage(), e);
    }
    LOG.info("rlhf4j serve: listening on http://{}:{}/", options.host(), port());
    return this;
  }

  /** The port it listens on (the one chosen when the options asked for 0). */
  public int port() {
    return connector.getLocalPort();
  }

  @Override
  public void close() {
    streams.close();
    try {
      server.stop();
    } catch (Exception e) {
      throw new IllegalStateException("stopping the HTTP server: " + e.getMessage(), e);
    }
  }

  // ---- Routing --------------------------------------------------------------------------------

  /** An answer with a status and a one-line message. */
  private static final class HttpError extends RuntimeException {
    final int status;

    HttpError(int status, String message) {
      super(message);
      this.status = status;
    }
  }

  private void handle(Request request, Response response, Callback callback) {
    String path = Request.getPathInContext(request);
    String method = request.getMethod();
    try {
      if (path.equals("/health")) {
        only(method, "GET");
        json(response, callback, 200, Map.of("status", "ok"));
        return;
      }
      if (path.equals("/") || path.equals("/index.html")) {
        only(method, "GET");
        // The page's own inline script and style, requests to this origin only, no framing.
        response.getHeaders().put("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; "
            + "style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'");
        send(response, callback, 200, "text/html; charset=utf-8", dashboard);
        return;
      }
      List<String> auth = request.getHeaders().getValuesList(HttpHeader.AUTHORIZATION);
      if (auth.size() != 1 || !token.accepts(auth.getFirst())) {
        response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
        throw new HttpError(401, "missing or wrong bearer token (Authorization: Bearer TOKEN)");
      }
      if (path.equals("/metrics")) {
        only(method, "GET");
        send(response, callback, 200, "text/plain; version=0.0.4; charset=utf-8",
            Prometheus.text(manager).getBytes(StandardCharsets.UTF_8));
        return;
      }
      if (path.equals("/api/jobs")) {
        if (method.equals("GET")) {
          json(response, callback, 200, manager.list().stream().map(JobServer::jobJson).toList());
        } else {
          only(method, "POST");
          json(response, callback, 201, jobJson(submit(request)));
        }
        return;
      }
      Matcher m = JOB_PATH.matcher(path);
      if (!m.matches()) throw new HttpError(404, "no such endpoint: " + path);
      job(m.group(1), m.group(2) == null ? "" : m.group(2), method, request, response, callback);
    } catch (HttpError e) {
      refuse(request, response, callback, e.status, e.getMessage());
    } catch (IllegalArgumentException e) {
      refuse(request, response, callback, 400, e.getMessage());
    } catch (ForbiddenPathException e) {
      refuse(request, response, callback, 403, e.getMessage());
    } catch (JobException e) {
      refuse(request, response, callback, e.reason() == JobException.Reason.NOT_FOUND ? 404 : 409, e.getMessage());
    } catch (Exception e) {
      LOG.warn("{} {}: {}", method, path, e.toString());
      refuse(request, response, callback, 500, String.valueOf(e.getMessage()).lines().findFirst().orElse(""));
    }
  }

  private void job(String id, String action, String method, Request request, Response response, Callback callback)
      throws IOException {
    switch (action) {
      case "" -> {
        if (method.equals("DELETE")) {
          manager.delete(id);
          json(response, callback, 200, Map.of("deleted", id));
        } else {
          only(method, "GET");
          json(response, callback, 200, jobJson(found(id)));
        }
      }
      case "metrics" -> {
        only(method, "GET");
        List<Map<String, Object>> rows = new ArrayList<>();
        for (MetricsRecord r : manager.metrics(id)) {
          Map<String, Object> row = new LinkedHashMap<>();
          row.put(MetricsRecord.ITERATION, r.iteration());
          row.putAll(r.values());
          rows.add(row);
        }
        json(response, callback, 200, rows);
      }
      case "samples" -> {
        only(method, "GET");
        json(response, callback, 200, manager.samples(id));
      }
      case "log" -> {
        only(method, "GET");
        send(response, callback, 200, "text/plain; charset=utf-8", manager.log(id).getBytes(StandardCharsets.UTF_8));
      }
      case "config" -> {
        only(method, "GET");
        send(response, callback, 200, "application/yaml; charset=utf-8",
            manager.config(id).getBytes(StandardCharsets.UTF_8));
      }
      case "events" -> {
        only(method, "GET");
        found(id);
        String bearer = request.getHeaders().get(HttpHeader.AUTHORIZATION).substring(7).strip();
        if (!streams.start(id, after(request), bearer, request, response, callback)) {
          throw new HttpError(429, streams.refusal());
        }
      }
      case "cancel" -> {
        only(method, "POST");
        json(response, callback, 200, jobJson(manager.cancel(id)));
      }
      case "resume" -> {
        only(method, "POST");
        json(response, callback, 200, jobJson(manager.resume(id)));
      }
      default -> throw new HttpError(404, "no such endpoint: /api/jobs/" + id + "/" + action);
    }
  }

  private JobInfo found(String id) {
    return manager.get(id).orElseThrow(() -> new JobException(JobException.Reason.NOT_FOUND, "no job '" + id + "'"));
  }

  private static void only(String method, String allowed) {
    if (!method.equals(allowed)) throw new HttpError(405, method + " is not allowed here (use " + allowed + ")");
  }

  // ---- Submitting -----------------------------------------------------------------------------

  /** {"command": ..., "config": {...}} as JSON, or the same mapping as YAML (Content-Type *yaml*). */
  private JobInfo submit(Request request) throws IOException {
    byte[] body = body(request);
    String type = request.getHeaders().get(HttpHeader.CONTENT_TYPE);
    boolean yaml = type != null && type.toLowerCase(java.util.Locale.ROOT).contains("yaml");
    JsonNode root;
    try {
      root = (yaml ? YAML : JSON).readTree(body);
    } catch (JsonProcessingException e) {
      String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr();
      throw new HttpError(400, "request body: invalid " + (yaml ? "YAML" : "JSON") + where + ": "
          + e.getOriginalMessage().lines().findFirst().orElse("").strip());
    }
    if (root == null || !root.isObject()) {
      throw new HttpError(400, "request body: expected a mapping {\"command\": ..., \"config\": {...}}");
    }
    for (var names = root.fieldNames(); names.hasNext(); ) {
      String n = names.next();
      if (!n.equals("command") && !n.equals("config")) {
        throw new HttpError(400, "request body: unknown key '" + n + "' (expected command and config)");
      }
    }
    JsonNode command = root.get("command");
    if (command == null || !command.isTextual()) {
      throw new HttpError(400, "request body: command is required: sft, train-rm, dpo or ppo");
    }
    return manager.submit(command.asText(), root.get("config"));
  }

  /**
   * The request body, refusing (413) one over the limit: unread when its declared length is over
   * DRAIN_FACTOR times the limit, else after reading and dropping the rest. Closing a connection
   * with unread bytes makes the kernel reset it, and the client would lose the 413 it was sent.
   */
  private byte[] body(Request request) throws IOException {
    long declared = request.getLength();
    long drainable = DRAIN_FACTOR * options.maxBodyBytes();
    if (declared > drainable) throw tooLarge();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (InputStream in = Content.Source.asInputStream(request)) {
      byte[] buf = new byte[8192];
      long read = 0;
      for (int n; (n = in.read(buf)) > 0; ) {
        read += n;
        if (read > drainable) throw tooLarge();
        if (read <= options.maxBodyBytes()) out.write(buf, 0, n);
      }
      if (read > options.maxBodyBytes()) throw tooLarge();
    }
    return out.toByteArray();
  }

  /** A body up to this many times the limit is read and dropped before its 413 (see body). */
  private static final long DRAIN_FACTOR = 4;

  private HttpError tooLarge() {
    return new HttpError(413, "request body over the limit of " + options.maxBodyBytes() + " bytes");
  }

  // ---- Events ---------------------------------------------------------------------------------

  /** The last iteration a client of the event stream has: ?after=N, else Last-Event-ID, else -1 (none). */
  private static long after(Request request) {
    String query = request.getHttpURI().getQuery();
    String value = null;
    String key = "after";
    if (query != null) {
      for (String part : query.split("&")) {
        if (part.startsWith("after=")) value = part.substring(6);
      }
    }
    if (value == null) {
      value = request.getHeaders().get("Last-Event-ID");
      key = "Last-Event-ID";
    }
    if (value == null) return -1;
    try {
      long n = Long.parseLong(value.strip());
      if (n >= 0) return n;
    } catch (NumberFormatException e) {
      // answered below
    }
    throw new HttpError(400, key + ": expected the number of an iteration (>= 0), got '" + value + "'");
  }

  // ---- Answers --------------------------------------------------------------------------------

  static Map<String, Object> jobJson(JobInfo j) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", j.id());
    m.put("command", j.command());
    m.put("state", j.state().label());
    m.put("run_dir", j.runDir());
    m.put("device", j.device());
    m.put("created", j.created());
    m.put("started", j.started());
    m.put("finished", j.finished());
    m.put("error", j.error());
    m.put("iteration", j.iteration());
    m.put("total_iterations", j.totalIterations());
    m.put("eta_seconds", j.etaSeconds());
    m.put("last_metrics", j.lastMetrics());
    return m;
  }

  private static void json(Response response, Callback callback, int status, Object body) throws IOException {
    send(response, callback, status, "application/json", OUT.writeValueAsBytes(body));
  }

  /**
   * An error answer to a request whose body may be unread (refused before reading it: a missing
   * token, an unknown path). The body is read and dropped first, up to DRAIN_FACTOR times the
   * limit, as before a 413 (see body): answered with its body unread, the connection would be
   * closed under a client that sends its next request on it.
   */
  private void refuse(Request request, Response response, Callback callback, int status, String message) {
    if (status != 413 && request.getLength() <= DRAIN_FACTOR * options.maxBodyBytes()) {
      try (InputStream in = Content.Source.asInputStream(request)) {
        byte[] buf = new byte[8192];
        long read = 0;
        for (int n; read <= DRAIN_FACTOR * options.maxBodyBytes() && (n = in.read(buf)) > 0; ) read += n;
      } catch (IOException e) {
        LOG.debug("dropping a refused request's body: {}", e.toString());
      }
    }
    try {
      json(response, callback, status, Map.of("error", String.valueOf(message)));
    } catch (IOException e) {
      callback.failed(e);
    }
  }

  private static void send(Response response, Callback callback, int status, String type, byte[] body) {
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
    response.getHeaders().put("X-Content-Type-Options", "nosniff");
    response.write(true, java.nio.ByteBuffer.wrap(body), callback);
  }
}
