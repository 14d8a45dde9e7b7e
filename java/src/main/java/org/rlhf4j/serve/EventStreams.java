package org.rlhf4j.serve;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.rlhf4j.metrics.MetricsRecord;

/**
 * The open Server-Sent Event streams of a server: at most maxPerToken per token and maxTotal in
 * all (beyond them a stream is refused, and the server answers 429), a comment every
 * {@link #KEEPALIVE_SECONDS} on each (so a vanished client is noticed), and for each new stream
 * the iterations the client missed: those after its ?after=N (or Last-Event-ID) from the job's
 * metrics.jsonl, then the live events, none twice. Thread-safe.
 */
final class EventStreams implements AutoCloseable {
  static final long KEEPALIVE_SECONDS = 15;

  private final JobManager manager;
  private final int maxTotal;
  private final int maxPerToken;
  private final Set<SseStream> open = ConcurrentHashMap.newKeySet();
  private final Map<String, Integer> perToken = new HashMap<>();
  private int total;
  private final ScheduledExecutorService keepAlive = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "rlhf4j-sse-keepalive");
    t.setDaemon(true);
    return t;
  });

  EventStreams(JobManager manager, int maxTotal, int maxPerToken) {
    this.manager = manager;
    this.maxTotal = maxTotal;
    this.maxPerToken = maxPerToken;
    keepAlive.scheduleWithFixedDelay(() -> open.forEach(SseStream::keepAlive), KEEPALIVE_SECONDS,
        KEEPALIVE_SECONDS, TimeUnit.SECONDS);
  }

  /** Takes a place for a stream of token; false when a cap is reached (nothing taken). */
  private synchronized boolean take(String token) {
    int mine = perToken.getOrDefault(token, 0);
    if (total >= maxTotal || mine >= maxPerToken) return false;
    perToken.put(token, mine + 1);
    total++;
    return true;
  }

  private synchronized void free(String token) {
    perToken.merge(token, -1, (a, b) -> a + b == 0 ? null : a + b);
    total--;
  }

  /** The message of a refused stream. */
  String refusal() {
    return "too many open event streams (at most " + maxPerToken + " per token, " + maxTotal
        + " in all); close one, or poll GET /api/jobs/ID";
  }

  /**
   * Starts the stream of job id on response (the request stays open, holding no thread) and
   * returns true; false when a cap is reached.
   *
   * @param after the last iteration the client has; -1 for none (no earlier iterations are sent)
   */
  boolean start(String id, long after, String token, Request request, Response response, Callback callback)
      throws IOException {
    if (!take(token)) return false;
    Gate gate = new Gate();
    JobManager.Subscription[] subscription = new JobManager.Subscription[1];
    SseStream[] self = new SseStream[1];
    SseStream stream = new SseStream(response, callback, after, () -> {
      if (subscription[0] != null) subscription[0].close();
      open.remove(self[0]);
      free(token);
    });
    self[0] = stream;
    gate.stream = stream;
    try {
      subscription[0] = manager.listen(id, gate::onEvent);
      response.setStatus(200);
      response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/event-stream; charset=utf-8");
      response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache");
      request.addFailureListener(stream::close);
      JobInfo now = manager.get(id).orElseThrow(() -> new JobException(JobException.Reason.NOT_FOUND,
          "no job '" + id + "'"));
      List<MetricsRecord> missed = after < 0 ? List.of() : manager.metrics(id);
      open.add(stream);
      gate.open(now, missed, after);
    } catch (IOException | RuntimeException e) {
      stream.abandon();  // nothing written: the caller answers with the error
      throw e;
    }
    return true;
  }

  /**
   * Holds a new stream's live events until what it missed has been queued, so that the order is:
   * the state at connection, the missed iterations, then the live events.
   */
  private final class Gate {
    SseStream stream;
    private final List<JobEvent> early = new ArrayList<>();
    private boolean live;

    synchronized void onEvent(JobEvent e) {
      if (live) {
        stream.send(e);
      } else {
        early.add(e);
      }
    }

    synchronized void open(JobInfo now, List<MetricsRecord> missed, long after) {
      JobEvent state = new JobEvent(JobEvent.STATE, now.id(), now.iteration(), now.state(), now.lastMetrics());
      if (!now.state().finished()) stream.send(state);
      for (MetricsRecord r : missed) {
        if (r.iteration() > after) {
          stream.send(new JobEvent(JobEvent.ITERATION, now.id(), r.iteration(), JobState.RUNNING, r.values()));
        }
      }
      if (now.state().finished()) stream.send(state);
      early.forEach(stream::send);
      early.clear();
      live = true;
    }
  }

  @Override
  public void close() {
    keepAlive.shutdownNow();
    for (SseStream s : open) s.close(new IOException("the server is stopping"));
    open.clear();
  }
}
