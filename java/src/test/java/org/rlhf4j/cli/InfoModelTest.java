package org.rlhf4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.engine.TensorInfo;
import org.rlhf4j.testing.TinyCheckpoints;

class InfoModelTest {
  @TempDir Path dir;

  @Test
  void describesAGpt2Directory() {
    ModelConfig config = TinyCheckpoints.gpt2().withValueHead(true);
    Path model = TinyCheckpoints.write(dir.resolve("m"), config);
    Cli r = Cli.run("info", "--model", model.toString());
    assertEquals(0, r.code(), r::toString);
    String out = r.out();
    assertTrue(out.contains("kind         gpt2 (GPT2LMHeadModel)"), out);
    assertTrue(out.contains(String.format(Locale.ROOT, "parameters   %,d", config.parameterCount())), out);
    assertTrue(out.contains("dtype        float32"), out);
    assertTrue(out.contains("vocab        " + TinyCheckpoints.tokenizer().vocabSize()), out);
    assertTrue(out.contains("context      64"), out);
    assertTrue(out.contains("layers       2"), out);
    assertTrue(out.contains("heads        4 (kv heads 4)"), out);
    assertTrue(out.contains("width        32 (mlp 128)"), out);
    assertTrue(out.contains("value head   yes"), out);
    assertTrue(out.contains("reward head  no"), out);
    assertTrue(out.contains("tokenizer    WordTokenizer, vocab " + TinyCheckpoints.tokenizer().vocabSize()
        + ", bos 1 (<bos>), eos 2 (<eos>), pad 0 (<pad>)"), out);
  }

  @Test
  void jsonDescribesALlamaDirectory() throws IOException {
    ModelConfig config = TinyCheckpoints.llama();
    Path model = TinyCheckpoints.write(dir.resolve("m"), config);
    Cli r = Cli.run("info", "--model", model.toString(), "--json");
    assertEquals(0, r.code(), r::toString);
    JsonNode j = new ObjectMapper().readTree(r.out());
    assertEquals("llama", j.get("model_type").asText());
    assertEquals("LlamaForCausalLM", j.get("architecture").asText());
    assertEquals(config.parameterCount(), j.get("parameters").asLong());
    assertEquals(4, j.get("heads").asInt());
    assertEquals(2, j.get("kv_heads").asInt());
    assertEquals(48, j.get("mlp_width").asInt());
    assertEquals("WordTokenizer", j.get("tokenizer").get("class").asText());
    assertEquals(TinyCheckpoints.tokenizer().eosId(), j.get("tokenizer").get("eos").asInt());
  }

  @Test
  void describesAQwen3WithItsHeadSizeAndQkNorms() throws IOException {
    ModelConfig config = TinyCheckpoints.qwen3();
    Path model = TinyCheckpoints.write(dir.resolve("q"), config);
    Cli r = Cli.run("info", "--model", model.toString(), "--json");
    assertEquals(0, r.code(), r::toString);
    JsonNode j = new ObjectMapper().readTree(r.out());
    assertEquals("qwen3", j.get("model_type").asText());
    assertEquals("Qwen3ForCausalLM", j.get("architecture").asText());
    assertEquals(16, j.get("head_dim").asInt(), "4 heads of 16 over a width of 32");
    assertTrue(j.get("qk_norm").asBoolean());
    assertEquals(config.parameterCount(), j.get("parameters").asLong());
    try (Model m = Model.create(config, "cpu")) {
      assertEquals(m.tensors().stream().mapToLong(TensorInfo::numel).sum(), config.parameterCount(),
          "the count is the native model's");
    }
    Cli text = Cli.run("info", "--model", model.toString());
    assertEquals(0, text.code(), text::toString);
    assertTrue(text.out().contains("kind         qwen3 (Qwen3ForCausalLM)"), text.out());
    assertTrue(text.out().contains("head size    16 (q/k normalised per head)"), text.out());
  }

  @Test
  void missingDirectoryIsAUsageError() {
    Path missing = dir.resolve("nope");
    Cli r = Cli.run("info", "--model", missing.toString());
    assertEquals(2, r.code(), r::toString);
    assertEquals("error: --model: " + missing + ": no such directory", r.err().strip());
  }
}
