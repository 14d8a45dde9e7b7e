package org.rlhf4j.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * One client's Server-Sent Events of one job, written with Jetty's asynchronous writes: no thread
 * waits for the job's events or for the client, so open streams cost memory, not request threads.
 * Events are queued (at most {@link #MAX_PENDING}; a client that falls that far behind is cut off
 * and reconnects from its last iteration) and written one batch at a time. Iteration events carry
 * their iteration as the SSE id, so a client resumes with Last-Event-ID or ?after=N; iterations at
 * or before the last one sent are not sent again. The stream ends after a finished state.
 * Thread-safe.
 */
final class SseStream {
  static final int MAX_PENDING = 4096;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Response response;
  private final Callback callback;
  private final Runnable onClose;
  private final ArrayDeque<byte[]> pending = new ArrayDeque<>();
  private long lastIteration;
  private boolean ending;
  private boolean writing;
  private boolean closed;

  /**
   * @param after the last iteration the client has (events of iterations up to it are skipped)
   * @param onClose run once when the stream ends, however it ends
   */
  SseStream(Response response, Callback callback, long after, Runnable onClose) {
    this.response = response;
    this.callback = callback;
    this.lastIteration = after;
    this.onClose = onClose;
  }

  /** Queues e (unless its iteration was sent already); a finished state ends the stream after it. */
  void send(JobEvent e) {
    boolean last = e.type().equals(JobEvent.STATE) && e.state().finished();
    synchronized (this) {
      if (e.type().equals(JobEvent.ITERATION)) {
        if (e.iteration() <= lastIteration) return;
        lastIteration = e.iteration();
      }
    }
    queue(text(e), last);
  }

  /** A comment line that keeps the connection (and proxies) from timing out. */
  void keepAlive() {
    queue(": keep-alive\n\n", false);
  }

  private void queue(String text, boolean last) {
    synchronized (this) {
      if (closed || ending) return;
      if (pending.size() >= MAX_PENDING) {
        pending.clear();
        last = true;
        text = ": too far behind; reconnect with Last-Event-ID\n\n";
      }
      pending.add(text.getBytes(StandardCharsets.UTF_8));
      ending = last;
      if (writing) return;
      writing = true;
    }
    writeNext();
  }

  /** Writes everything queued as one buffer; the write's completion writes what came meanwhile. */
  private void writeNext() {
    ByteArrayOutputStream batch = new ByteArrayOutputStream();
    boolean last;
    synchronized (this) {
      if (pending.isEmpty() || closed) {
        writing = false;
        return;
      }
      for (byte[] b : pending) batch.writeBytes(b);
      pending.clear();
      last = ending;
    }
    response.write(last, ByteBuffer.wrap(batch.toByteArray()), Callback.from(() -> {
      if (last) {
        close(null);
      } else {
        writeNext();
      }
    }, this::close));
  }

  /** Ends the stream: the client went away (failure) or the job finished (null). */
  void close(Throwable failure) {
    if (!end()) return;
    if (failure == null) {
      callback.succeeded();
    } else {
      callback.failed(failure);
    }
  }

  /** Ends a stream that never started, leaving the request's answer to the caller. */
  void abandon() {
    end();
  }

  private boolean end() {
    synchronized (this) {
      if (closed) return false;
      closed = true;
      pending.clear();
    }
    onClose.run();
    return true;
  }

  private static String text(JobEvent e) {
    Map<String, Object> data = new LinkedHashMap<>();
    data.put("job", e.job());
    data.put("iteration", e.iteration());
    data.put("state", e.state().label());
    data.put("metrics", e.metrics());
    List<String> lines = new ArrayList<>();
    lines.add("event: " + e.type());
    if (e.type().equals(JobEvent.ITERATION)) lines.add("id: " + e.iteration());
    try {
      lines.add("data: " + JSON.writeValueAsString(data));
    } catch (JsonProcessingException ex) {
      throw new IllegalStateException("an event that cannot be JSON: " + ex.getMessage(), ex);
    }
    return String.join("\n", lines) + "\n\n";
  }
}
