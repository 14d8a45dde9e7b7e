package org.rlhf4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.tokenizer.WordTokenizer;

class GenerateCommandTest {
  @TempDir Path dir;

  private static List<JsonNode> lines(Path file) throws IOException {
    ObjectMapper json = new ObjectMapper();
    List<JsonNode> out = new ArrayList<>();
    for (String l : Files.readAllLines(file)) out.add(json.readTree(l));
    return out;
  }

  private static int[] ints(JsonNode array) {
    int[] out = new int[array.size()];
    for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
    return out;
  }

  @Test
  void writesOneObjectPerPromptWithPerTokenLogprobs() throws IOException {
    Path model = TinyCheckpoints.write(dir.resolve("m"), TinyCheckpoints.llama());
    Path prompts = dir.resolve("prompts.jsonl");
    Files.writeString(prompts, "{\"prompt\": \"the food was\"}\n{\"prompt\": \"it is\", \"id\": 7}\n"
        + "{\"prompt\": \"one two three\"}\n");
    Path out = dir.resolve("out/gen.jsonl");
    Cli r = Cli.run("generate", "--model", model.toString(), "--prompts", prompts.toString(), "--max-new-tokens", "5",
        "--batch-size", "2", "--seed", "4", "--out", out.toString());
    assertEquals(0, r.code(), r::toString);
    assertTrue(r.out().contains("wrote 3 generations"), r::toString);

    WordTokenizer tok = TinyCheckpoints.tokenizer();
    List<JsonNode> lines = lines(out);
    assertEquals(List.of("the food was", "it is", "one two three"),
        lines.stream().map(l -> l.get("prompt").asText()).toList());
    for (JsonNode l : lines) {
      assertArrayEquals(tok.encodePrompt(l.get("prompt").asText()), ints(l.get("prompt_tokens")));
      int[] response = ints(l.get("response_tokens"));
      assertTrue(response.length >= 1 && response.length <= 5);
      assertEquals(tok.decode(response, true), l.get("response").asText());
      assertEquals(response.length, l.get("logprobs").size());
      for (JsonNode lp : l.get("logprobs")) assertTrue(lp.asDouble() < 0, "a log-probability");
      assertFalse(l.has("values"), "the model has no value head");
    }

    // The same seed and batch size give the same file; another seed other samples.
    Path again = dir.resolve("again.jsonl");
    assertEquals(0, Cli.run("generate", "--model", model.toString(), "--prompts", prompts.toString(),
        "--max-new-tokens", "5", "--batch-size", "2", "--seed", "4", "--out", again.toString()).code());
    assertEquals(Files.readString(out), Files.readString(again));
    Path other = dir.resolve("other.jsonl");
    assertEquals(0, Cli.run("generate", "--model", model.toString(), "--prompts", prompts.toString(),
        "--max-new-tokens", "5", "--batch-size", "2", "--seed", "5", "--out", other.toString()).code());
    assertFalse(Files.readString(out).equals(Files.readString(other)));
  }

  @Test
  void aConversationalPromptIsRenderedWithTheModelsChatTemplate() throws IOException {
    Path model = TinyCheckpoints.write(dir.resolve("m"), TinyCheckpoints.llama());
    TinyCheckpoints.writeChatTemplate(model, TinyCheckpoints.CHAT_TEMPLATE);
    Path prompts = dir.resolve("chat.jsonl");
    Files.writeString(prompts, "{\"prompt\": [{\"role\": \"user\", \"content\": \"the food was\"}]}\n");
    Path out = dir.resolve("gen.jsonl");
    Cli r = Cli.run("generate", "--model", model.toString(), "--prompts", prompts.toString(), "--max-new-tokens", "3",
        "--out", out.toString());
    assertEquals(0, r.code(), r::toString);
    JsonNode line = lines(out).getFirst();
    String rendered = "<bos>user the food was <eos> assistant ";
    assertEquals(rendered, line.get("prompt").asText());
    assertArrayEquals(TinyCheckpoints.tokenizer().encode(rendered), ints(line.get("prompt_tokens")));

    Files.writeString(prompts, "{\"prompt\": [{\"role\": \"robot\", \"content\": \"the food was\"}]}\n");
    Cli bad = Cli.run("generate", "--model", model.toString(), "--prompts", prompts.toString(), "--out", out.toString());
    assertEquals(2, bad.code(), bad::toString);
    assertTrue(bad.err().contains(prompts + ":1: prompt[0]: unknown role \"robot\""), bad::toString);
  }

  /**
   * Greedy generation after a conversational prompt ends at the template's end-of-turn token
   * (not the model's EOS): the same model and prompt give the same tokens up to it, then stop;
   * a plain-string prompt does not stop there.
   */
  @Test
  void aConversationalResponseEndsAtTheTemplatesEndOfTurnToken() throws IOException {
    WordTokenizer tok = TinyCheckpoints.tokenizer();
    Path model = TinyCheckpoints.write(dir.resolve("m"), TinyCheckpoints.llama());
    Path prompts = Files.writeString(dir.resolve("chat.jsonl"),
        "{\"prompt\": [{\"role\": \"user\", \"content\": \"the food was\"}]}\n");
    // First with an end of turn the model never writes: the response runs to --max-new-tokens.
    TinyCheckpoints.writeChatTemplate(model, TinyCheckpoints.chatTemplateEndingTurnsWith("<bos>"));
    int[] free = ints(generate(model, prompts, "free.jsonl").get("response_tokens"));
    assertEquals(8, free.length, "the untrained model runs to the limit");
    // The first token it writes after its first one, other than the ones before: made the end of turn.
    int cut = 1;
    while (cut < free.length && (free[cut] == tok.unkId() || fresh(free, cut) < 0)) cut++;
    assertTrue(cut < free.length - 1, "no fresh token before the last in " + Arrays.toString(free));
    String word = tok.vocabulary().get(free[cut]);
    TinyCheckpoints.writeChatTemplate(model, TinyCheckpoints.chatTemplateEndingTurnsWith(word));
    JsonNode stopped = generate(model, prompts, "stopped.jsonl");
    assertArrayEquals(Arrays.copyOf(free, cut + 1), ints(stopped.get("response_tokens")),
        "the same tokens, ending with the end of turn '" + word + "'");

    // The same prompt tokens (BOS added, roles unk), as a string.
    Path plain = Files.writeString(dir.resolve("plain.txt"), "user the food was <eos> assistant\n");
    JsonNode unstopped = generate(model, plain, "plain.jsonl");
    assertArrayEquals(free, ints(unstopped.get("response_tokens")), "a plain-string prompt stops at EOS only");
  }

  /** free[i], or -1 when it is one of the tokens before it. */
  private static int fresh(int[] free, int i) {
    for (int j = 0; j < i; j++) if (free[j] == free[i]) return -1;
    return free[i];
  }

  private JsonNode generate(Path model, Path prompts, String out) throws IOException {
    Cli r = Cli.run("generate", "--model", model.toString(), "--prompts", prompts.toString(), "--temperature", "0",
        "--max-new-tokens", "8", "--out", dir.resolve(out).toString());
    assertEquals(0, r.code(), r::toString);
    return lines(dir.resolve(out)).getFirst();
  }

  @Test
  void modelWithValueHeadReportsValues() throws IOException {
    Path model = TinyCheckpoints.write(dir.resolve("m"), TinyCheckpoints.gpt2().withValueHead(true));
    Path prompts = TinyCheckpoints.prompts(dir.resolve("p.txt"), 3);
    Path out = dir.resolve("gen.jsonl");
    Cli r = Cli.run("generate", "--model", model.toString(), "--prompts", prompts.toString(), "--max-new-tokens", "4",
        "--out", out.toString());
    assertEquals(0, r.code(), r::toString);
    for (JsonNode l : lines(out)) assertEquals(l.get("response_tokens").size(), l.get("values").size());
  }

  @Test
  void tooLongPromptIsAnErrorNamingItsLineAndWritesNothing() throws IOException {
    Path model = TinyCheckpoints.write(dir.resolve("m"), TinyCheckpoints.gpt2());
    Path prompts = dir.resolve("p.txt");
    Files.writeString(prompts, "it is\nthe food\n" + "one two ".repeat(30) + "\n");
    Path out = dir.resolve("gen.jsonl");
    Cli r = Cli.run("generate", "--model", model.toString(), "--prompts", prompts.toString(), "--max-new-tokens", "8",
        "--out", out.toString());
    assertEquals(2, r.code(), r::toString);
    assertTrue(r.err().contains(prompts + ":3: the prompt is 61 tokens"), r::toString);
    assertTrue(r.err().contains("context is 64"), r::toString);
    assertFalse(Files.exists(out));
  }

  @Test
  void missingModelDirIsAUsageError() {
    Path prompts = TinyCheckpoints.prompts(dir.resolve("p.txt"), 2);
    Path missing = dir.resolve("nope");
    Cli r = Cli.run("generate", "--model", missing.toString(), "--prompts", prompts.toString(), "--out",
        dir.resolve("o.jsonl").toString());
    assertEquals(2, r.code(), r::toString);
    assertTrue(r.err().contains("--model: " + missing), r::toString);
  }

  @Test
  void badSamplingOptionIsAUsageError() {
    Path model = TinyCheckpoints.write(dir.resolve("m"), TinyCheckpoints.gpt2());
    Path prompts = TinyCheckpoints.prompts(dir.resolve("p.txt"), 2);
    Cli r = Cli.run("generate", "--model", model.toString(), "--prompts", prompts.toString(), "--top-p", "0",
        "--out", dir.resolve("o.jsonl").toString());
    assertEquals(2, r.code(), r::toString);
    assertTrue(r.err().contains("--top-p must be in (0, 1]"), r::toString);
  }
}
