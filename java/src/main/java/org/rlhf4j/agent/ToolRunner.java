package org.rlhf4j.agent;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs the model's tool calls on virtual threads, at most maxConcurrency at once across every
 * episode that shares this runner, each within a timeout. Whatever goes wrong (unknown tool,
 * exception, timeout) becomes the tool message's text, never an exception. Thread-safe.
 */
public final class ToolRunner implements AutoCloseable {
  static final String MARKER = "\n...[truncated]...\n";

  private final Map<String, Tool> tools;
  private final Semaphore permits;
  private final Duration timeout;
  private final int maxChars;
  private final ToolMetrics metrics;
  private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();

  /**
   * @param maxChars results longer than this are cut in the middle (at least the marker's length + 2)
   */
  public ToolRunner(List<Tool> tools, int maxConcurrency, Duration timeout, int maxChars, ToolMetrics metrics) {
    if (maxConcurrency < 1 || !timeout.isPositive() || maxChars < MARKER.length() + 2) {
      throw new IllegalArgumentException("tool runner: max_concurrency >= 1, tool_timeout > 0 and "
          + "max_tool_response_chars >= " + (MARKER.length() + 2) + " are required");
    }
    Map<String, Tool> byName = new LinkedHashMap<>();
    for (Tool t : tools) {
      if (byName.put(t.name(), t) != null) throw new IllegalArgumentException("agent.tools: two tools named '" + t.name() + "'");
    }
    this.tools = byName;
    this.permits = new Semaphore(maxConcurrency, true);
    this.timeout = timeout;
    this.maxChars = maxChars;
    this.metrics = metrics;
  }

  public List<Tool> tools() {
    return List.copyOf(tools.values());
  }

  public ToolMetrics metrics() {
    return metrics;
  }

  /**
   * One tool message per call, in order, after all have finished; then one per parse error.
   *
   * @throws InterruptedException when the calling thread is interrupted while waiting
   */
  public List<Message> run(List<ToolCall> calls, List<String> parseErrors) throws InterruptedException {
    List<Future<String>> running = new ArrayList<>();
    for (ToolCall c : calls) running.add(threads.submit(() -> guarded(c)));
    List<Message> out = new ArrayList<>();
    try {
      for (int i = 0; i < calls.size(); i++) {
        out.add(Message.tool(calls.get(i).id(), calls.get(i).name(), truncate(running.get(i).get())));
      }
    } catch (ExecutionException e) {
      throw new IllegalStateException("a guarded tool call threw", e.getCause());
    } finally {
      running.forEach(f -> f.cancel(true));
    }
    for (String e : parseErrors) {
      metrics.unparsed();
      out.add(Message.tool(null, null, truncate("Error: " + e)));
    }
    return out;
  }

  /** The call's result or the error the model reads; waits for a permit, which the timeout does not count. */
  private String guarded(ToolCall call) throws InterruptedException {
    Tool tool = tools.get(call.name());
    if (tool == null) {
      metrics.call(0, true);
      return "Error: unknown tool '" + call.name() + "'; tools: " + String.join(", ", tools.keySet());
    }
    permits.acquire();
    long start = System.nanoTime();
    Future<String> f = threads.submit(() -> tool.call(call.arguments()));
    try {
      String result = f.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
      metrics.call(System.nanoTime() - start, false);
      return result == null ? "" : result;
    } catch (TimeoutException e) {
      metrics.call(System.nanoTime() - start, true);
      return "Error: tool '" + call.name() + "' timed out after " + timeout.toMillis() + " ms";
    } catch (ExecutionException e) {
      metrics.call(System.nanoTime() - start, true);
      Throwable t = e.getCause();
      return "Error: tool '" + call.name() + "' failed: " + t.getClass().getSimpleName()
          + (t.getMessage() == null ? "" : ": " + t.getMessage());
    } finally {
      f.cancel(true);
      permits.release();
    }
  }

  /** text cut in the middle to maxChars with a marker; never splits a surrogate pair. */
  String truncate(String text) {
    if (text.length() <= maxChars) return text;
    int keep = maxChars - MARKER.length();
    int head = (keep + 1) / 2;
    int tail = keep - head;
    if (Character.isHighSurrogate(text.charAt(head - 1))) head--;
    int from = text.length() - tail;
    if (Character.isLowSurrogate(text.charAt(from))) from++;
    return text.substring(0, head) + MARKER + text.substring(from);
  }

  /** Interrupts calls still running and stops accepting new ones. */
  @Override
  public void close() {
    threads.shutdownNow();
  }
}
