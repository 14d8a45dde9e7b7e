package org.rlhf4j.testing;

import com.fasterxml.jackson.databind.node.TextNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.rlhf4j.checkpoint.CheckpointWriter;
import org.rlhf4j.checkpoint.HfConfig;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.tokenizer.WordTokenizer;

/**
 * Tiny models written as Hugging Face directories with the word tokenizer, so tests of the
 * trainers and the CLI run on real files in milliseconds.
 */
public final class TinyCheckpoints {
  /** A small vocabulary: digits as words, a few nouns and adjectives. */
  public static final List<String> WORDS = List.of("zero", "one", "two", "three", "four", "five", "six", "seven",
      "eight", "nine", "the", "food", "was", "good", "bad", "very", "and", "it", "is", "great");

  /**
   * A small ChatML-like chat template over the word tokenizer: BOS, then per message its role, its
   * content and EOS (the end of turn); the generation prompt opens the assistant's turn. Roles are
   * out of the vocabulary (unk), which the template does not mind.
   */
  public static final String CHAT_TEMPLATE = "{{ bos_token }}{% for m in messages %}{{ m['role'] }} "
      + "{{ m['content'] }} {{ eos_token }} {% endfor %}{% if add_generation_prompt %}assistant {% endif %}";

  /**
   * {@link #CHAT_TEMPLATE} whose assistant turns end with endOfTurn instead of EOS (as base Qwen3's
   * end with {@code <|im_end|>}, not its EOS): a prompt of user messages renders the same
   * whatever endOfTurn is.
   */
  public static String chatTemplateEndingTurnsWith(String endOfTurn) {
    return "{{ bos_token }}{% for m in messages %}{{ m['role'] }} {{ m['content'] }} "
        + "{% if m['role'] == 'assistant' %}" + endOfTurn + "{% else %}{{ eos_token }}{% endif %} {% endfor %}"
        + "{% if add_generation_prompt %}assistant {% endif %}";
  }

  private TinyCheckpoints() {}

  /** Writes tokenizer_config.json into dir with the special tokens and, unless null, template. */
  public static Path writeChatTemplate(Path dir, String template) {
    String config = "{\"bos_token\": \"<bos>\", \"eos_token\": \"<eos>\""
        + (template == null ? "" : ", \"chat_template\": " + TextNode.valueOf(template))
        + "}";
    try {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve("tokenizer_config.json"), config);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return dir;
  }

  public static WordTokenizer tokenizer() {
    return WordTokenizer.of(WORDS);
  }

  /** A GPT-2 shape over the word tokenizer: 2 layers, n_embd 32, context 64. */
  public static ModelConfig gpt2() {
    return ModelConfig.gpt2(tokenizer().vocabSize(), 64, 32, 2, 4).withSeed(7);
  }

  /** A Llama shape (grouped-query attention, untied head) over the word tokenizer. */
  public static ModelConfig llama() {
    return ModelConfig.llama(tokenizer().vocabSize(), 64, 32, 2, 4, 2, 48).withSeed(7);
  }

  /** A Qwen3 shape: q/k norms, 4 heads of 16 over width 32, 2 kv heads, tied head. */
  public static ModelConfig qwen3() {
    return ModelConfig.qwen3(tokenizer().vocabSize(), 64, 32, 2, 4, 2, 16, 48).withSeed(7);
  }

  /** Writes a randomly initialised model of config, with tokenizer.json, into dir. */
  public static Path write(Path dir, ModelConfig config) {
    WordTokenizer tok = tokenizer();
    try (Model m = Model.create(config, "cpu")) {
      HfConfig hf = HfConfig.of(m.config()).withTokenIds(tok.bosId(), List.of(tok.eosId()), tok.padId());
      new CheckpointWriter().model(m, hf).file("tokenizer.json", tok::save).writeTo(dir, false);
      return dir;
    }
  }

  /** A text prompt file of n lines cycling through a few openings. */
  public static Path prompts(Path file, int n) {
    String[] openings = {"the food was", "it is", "one two", "the food is very", "three four five"};
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) sb.append(openings[i % openings.length]).append('\n');
    try {
      Files.writeString(file, sb);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return file;
  }
}
