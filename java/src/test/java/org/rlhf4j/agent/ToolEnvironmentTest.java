package org.rlhf4j.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.rlhf4j.config.AgentSection;
import org.rlhf4j.config.AgentTools;

/** The built-in tool-calling environment and its runner: errors become messages, bounds hold. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ToolEnvironmentTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Echoes its "text" argument; fails on "boom"; sleeps "sleep_ms" (interruptibly) first. */
  public static final class Echo implements Tool {
    static final AtomicInteger running = new AtomicInteger();
    static final AtomicInteger maxRunning = new AtomicInteger();

    @Override
    public String name() {
      return "echo";
    }

    @Override
    public String description() {
      return "Repeats text.";
    }

    @Override
    public JsonNode parameters() {
      return json("{\"type\": \"object\", \"properties\": {\"text\": {\"type\": \"string\"}}, \"required\": [\"text\"]}");
    }

    @Override
    public String call(JsonNode arguments) throws Exception {
      maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
      try {
        Thread.sleep(arguments.path("sleep_ms").asLong(0));
        String text = arguments.path("text").asText();
        if (text.equals("boom")) throw new IllegalStateException("the kitchen is closed");
        return text;
      } finally {
        running.decrementAndGet();
      }
    }
  }

  /** A tool whose constructor needs an argument: not instantiable by class name. */
  public static final class NeedsArgument implements Tool {
    public NeedsArgument(String x) {}

    @Override
    public String name() {
      return "x";
    }

    @Override
    public JsonNode parameters() {
      return json("{}");
    }

    @Override
    public String call(JsonNode arguments) {
      return "";
    }
  }

  static JsonNode json(String s) {
    try {
      return JSON.readTree(s);
    } catch (Exception e) {
      throw new IllegalArgumentException(e);
    }
  }

  private static AgentSection section(int maxTurns, int concurrency, Duration timeout, int maxChars) {
    return new AgentSection(null, new AgentTools(List.of(Echo.class.getName())), AgentSection.ToolFormat.HERMES,
        maxTurns, concurrency, timeout, maxChars);
  }

  private static Message say(String text) {
    return Message.assistant(text, List.of());
  }

  private static String call(String args) {
    return "<tool_call>{\"name\": \"echo\", \"arguments\": " + args + "}</tool_call>";
  }

  @Test
  void toolResultsComeBackAsToolMessagesUntilATurnWithoutCalls() {
    try (AgentRuntime rt = new AgentRuntime(section(4, 4, Duration.ofSeconds(10), 256));
        Environment env = rt.newEpisode()) {
      assertEquals(List.of(Message.system("be brief"), Message.user("say hi")),
          env.reset(Environment.row("say hi", Map.of("system", "be brief", "answer", "hi"))));
      var noPrompt = assertThrows(IllegalArgumentException.class, () -> env.reset(Map.of("answer", "x")));
      assertEquals("tool environment: the prompt row needs a \"prompt\" string or list of messages, got keys [answer]", noPrompt.getMessage());
      var step = env.step(say("sure " + call("{\"text\": \"hi\"}") + call("{\"text\": \"there\"}")));
      assertEquals(List.of(Message.tool("call_0", "echo", "hi"), Message.tool("call_1", "echo", "there")),
          step.observations());
      assertEquals(false, step.done());
      var last = env.step(say("hi there"));
      assertEquals(new Environment.Step(List.of(), 0, true), last);
      assertEquals(2, rt.metrics().calls());
      assertEquals(0, rt.metrics().errors());
      assertEquals("[{\"type\":\"function\",\"function\":{\"name\":\"echo\",\"description\":\"Repeats text.\","
          + "\"parameters\":{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},\"required\":[\"text\"]}}}]",
          rt.toolSpecs().toString());
    }
  }

  @Test
  void exceptionsTimeoutsUnknownToolsAndBadJsonAreErrorMessagesToTheModel() {
    try (AgentRuntime rt = new AgentRuntime(section(4, 4, Duration.ofMillis(200), 256));
        Environment env = rt.newEpisode()) {
      env.reset(Map.of("prompt", "p"));
      var step = env.step(say(call("{\"text\": \"boom\"}") + call("{\"text\": \"slow\", \"sleep_ms\": 20000}")
          + "<tool_call>{\"name\": \"menu\"}</tool_call>" + "<tool_call>{\"name\": \"echo\", \"arguments\": {]}</tool_call>"
          + call("{\"text\": \"fine\"}")));
      List<String> texts = step.observations().stream().map(Message::content).toList();
      assertEquals("Error: tool 'echo' failed: IllegalStateException: the kitchen is closed", texts.get(0));
      assertEquals("Error: tool 'echo' timed out after 200 ms", texts.get(1));
      assertEquals("Error: unknown tool 'menu'; tools: echo", texts.get(2));
      assertEquals("fine", texts.get(3));
      assertTrue(texts.get(4).startsWith("Error: tool call 3: is not JSON"), texts.get(4));
      assertTrue(step.observations().stream().allMatch(m -> m.role().equals("tool")));
      assertEquals(false, step.done());
      assertEquals(5, rt.metrics().calls());
      assertEquals(4, rt.metrics().errors());
      Map<String, Double> drained = rt.metrics().drain();
      assertEquals(5.0, drained.get("agent/tool_calls"));
      assertEquals(4.0, drained.get("agent/tool_errors"));
      assertTrue(drained.get("agent/tool_seconds") > 0);
      assertEquals(0, rt.metrics().calls(), "drained");
    }
  }

  @Test
  void longResultsAreCutInTheMiddleToTheLimit() {
    try (AgentRuntime rt = new AgentRuntime(section(4, 4, Duration.ofSeconds(10), 40));
        Environment env = rt.newEpisode()) {
      env.reset(Map.of("prompt", "p"));
      String text = "HEAD" + "x".repeat(100) + "TAIL";
      String out = env.step(say(call("{\"text\": \"" + text + "\"}"))).observations().get(0).content();
      assertEquals(40, out.length());
      assertTrue(out.startsWith("HEAD") && out.endsWith("TAIL") && out.contains(ToolRunner.MARKER), out);
      assertEquals("short", env.step(say(call("{\"text\": \"short\"}"))).observations().get(0).content());
    }
  }

  @Test
  void truncationNeverSplitsASurrogatePair() {
    try (ToolRunner r = new ToolRunner(List.of(), 1, Duration.ofSeconds(1), ToolRunner.MARKER.length() + 5,
        new ToolMetrics())) {
      String faces = "\ud83d\ude00".repeat(20);
      String cut = r.truncate(faces);
      assertTrue(cut.length() <= ToolRunner.MARKER.length() + 5, cut);
      for (int i = 0; i < cut.length(); i++) {
        char c = cut.charAt(i);
        if (Character.isHighSurrogate(c)) assertTrue(Character.isLowSurrogate(cut.charAt(i + 1)), "pair at " + i);
        if (Character.isLowSurrogate(c)) assertTrue(Character.isHighSurrogate(cut.charAt(i - 1)), "pair at " + i);
      }
      assertTrue(cut.startsWith("\ud83d\ude00") && cut.endsWith("\ud83d\ude00"), cut);
    }
  }

  @Test
  void maxTurnsEndsTheEpisodeWithoutRunningTheLastCalls() {
    try (AgentRuntime rt = new AgentRuntime(section(2, 4, Duration.ofSeconds(10), 256));
        Environment env = rt.newEpisode()) {
      env.reset(Map.of("prompt", "p"));
      assertEquals(false, env.step(say(call("{\"text\": \"a\"}"))).done());
      var second = env.step(say(call("{\"text\": \"b\"}")));
      assertEquals(true, second.done());
      assertEquals(List.of(), second.observations());
      assertEquals(1, rt.metrics().calls());
    }
  }

  @Test
  void concurrencyIsBoundedAcrossEpisodes() throws Exception {
    Echo.maxRunning.set(0);
    try (AgentRuntime rt = new AgentRuntime(section(4, 3, Duration.ofSeconds(30), 256));
        ExecutorService episodes = Executors.newVirtualThreadPerTaskExecutor()) {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<List<Message>>> results = new ArrayList<>();
      for (int e = 0; e < 6; e++) {
        results.add(episodes.submit(() -> {
          Environment env = rt.newEpisode();
          env.reset(Map.of("prompt", "p"));
          start.await();
          return env.step(say(call("{\"text\": \"a\", \"sleep_ms\": 30}") + call("{\"text\": \"b\", \"sleep_ms\": 30}")))
              .observations();
        }));
      }
      start.countDown();
      for (Future<List<Message>> f : results) {
        assertEquals(List.of("a", "b"), f.get().stream().map(Message::content).toList());
      }
      assertEquals(12, rt.metrics().calls());
    }
    assertTrue(Echo.maxRunning.get() <= 3, "at most 3 tools at once, saw " + Echo.maxRunning.get());
    assertTrue(Echo.maxRunning.get() >= 1);
  }

  @Test
  void classesThatCannotBeToolsOrEnvironmentsFailWithTheKey() {
    var notTool = assertThrows(IllegalArgumentException.class, () -> new AgentRuntime(new AgentSection(null,
        new AgentTools(List.of(Echo.class.getName(), "java.lang.String")), AgentSection.ToolFormat.HERMES, 2, 2,
        Duration.ofSeconds(1), 256)));
    assertEquals("agent.tools[1]: java.lang.String does not implement org.rlhf4j.agent.Tool", notTool.getMessage());
    var noCtor = assertThrows(IllegalArgumentException.class, () -> new AgentRuntime(new AgentSection(null,
        new AgentTools(List.of(NeedsArgument.class.getName())), AgentSection.ToolFormat.HERMES, 2, 2,
        Duration.ofSeconds(1), 256)));
    assertTrue(noCtor.getMessage().endsWith("needs a public no-argument constructor"), noCtor.getMessage());
    var missing = assertThrows(IllegalArgumentException.class, () -> new AgentRuntime(new AgentSection("com.acme.Nope",
        new AgentTools(List.of()), AgentSection.ToolFormat.HERMES, 2, 2, Duration.ofSeconds(1), 256)));
    assertEquals("agent.environment: class com.acme.Nope is not on the classpath", missing.getMessage());
    var twice = assertThrows(IllegalArgumentException.class, () -> new AgentRuntime(new AgentSection(null,
        new AgentTools(List.of(Echo.class.getName(), Echo.class.getName())), AgentSection.ToolFormat.HERMES, 2, 2,
        Duration.ofSeconds(1), 256)));
    assertEquals("agent.tools: two tools named 'echo'", twice.getMessage());
  }
}
