package org.rlhf4j.tokenizer;

import ai.djl.engine.EngineException;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.lang.ref.Cleaner;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json} (any model and pipeline: GPT-2, Llama 3, Qwen2 ...), run
 * by Hugging Face's own tokenizers library through DJL ({@code ai.djl.huggingface:tokenizers},
 * whose jar carries the native library, so no download happens). Encoding adds no special tokens
 * and never truncates or pads. Bos, eos and pad come from the checkpoint's {@code
 * tokenizer_config.json}, {@code special_tokens_map.json}, {@code generation_config.json} and
 * {@code config.json}, in that order; a missing pad is the eos.
 *
 * <p>Immutable and thread-safe: the native tokenizer is configured once, when loaded, and only
 * read afterwards. It is freed when this object becomes unreachable.
 */
public final class HfTokenizer implements Tokenizer {
  private static final Cleaner CLEANER = Cleaner.create();
  /** Plain encoding: special tokens are the caller's choice, lengths the trainer's. */
  private static final Map<String, String> OPTIONS =
      Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false");

  static {
    // DJL otherwise probes the EC2 metadata service and reports usage on first load.
    if (System.getenv("OPT_OUT_TRACKING") == null
        && System.getProperty("OPT_OUT_TRACKING") == null) {
      System.setProperty("OPT_OUT_TRACKING", "true");
    }
  }

  private final HuggingFaceTokenizer tokenizer;
  private final int vocabSize;
  private final SpecialIds specialIds;
  private final boolean prependsBos;

  private HfTokenizer(HuggingFaceTokenizer tokenizer, int vocabSize, SpecialIds specialIds) {
    this.tokenizer = tokenizer;
    this.vocabSize = vocabSize;
    this.specialIds = specialIds;
    // The file's own post-processor says whether sequences start with BOS (Llama's does).
    long[] withSpecials = tokenizer.encode("a", true, false).getIds();
    this.prependsBos = specialIds.bos() >= 0 && withSpecials.length > 0 && withSpecials[0] == specialIds.bos();
    CLEANER.register(this, tokenizer::close);
  }

  /**
   * Loads {@code tokenizer.json} of a checkpoint directory, with the special ids its config
   * files declare.
   *
   * @throws IOException when a file is missing or malformed, or a special token is unknown
   */
  public static HfTokenizer load(Path dir) throws IOException {
    return load(dir, JsonFiles.read(dir.resolve("tokenizer.json")));
  }

  /** Loads dir's tokenizer.json, already parsed as json. */
  static HfTokenizer load(Path dir, JsonNode json) throws IOException {
    Path file = dir.resolve("tokenizer.json");
    Map<String, Integer> ids = tokenIds(json, file);
    int vocabSize = ids.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
    SpecialIds specialIds =
        SpecialIds.read(dir, token -> ids.getOrDefault(token, -1), vocabSize, SpecialIds.NONE);
    HuggingFaceTokenizer tokenizer;
    try {
      tokenizer = HuggingFaceTokenizer.newInstance(file, OPTIONS);
    } catch (EngineException | UnsatisfiedLinkError e) {
      throw new IllegalStateException("cannot read " + file + ": Hugging Face tokenizers' native"
          + " library (ai.djl.huggingface:tokenizers) did not load on this platform: " + e, e);
    } catch (RuntimeException e) {
      throw new IOException(file + ": Hugging Face tokenizers rejected it: " + e.getMessage(), e);
    }
    return new HfTokenizer(tokenizer, vocabSize, specialIds);
  }

  @Override
  public int[] encode(String text) {
    long[] ids = tokenizer.encode(text).getIds();
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) out[i] = Math.toIntExact(ids[i]);
    return out;
  }

  @Override
  public String decode(int[] ids, boolean skipSpecialTokens) {
    long[] in = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= vocabSize) {
        throw new IllegalArgumentException("token id " + ids[i] + " is not in the vocabulary (size "
            + vocabSize + ")");
      }
      in[i] = ids[i];
    }
    return tokenizer.decode(in, skipSpecialTokens);
  }

  @Override
  public int vocabSize() {
    return vocabSize;
  }

  @Override
  public boolean prependsBos() {
    return prependsBos;
  }

  @Override
  public int bosId() {
    return specialIds.bos();
  }

  @Override
  public int eosId() {
    return specialIds.eos();
  }

  @Override
  public int padId() {
    return specialIds.pad();
  }

  /**
   * Token text to id, from the model's vocabulary (an object, or Unigram's list of [piece,
   * score]) and the added tokens, which win.
   */
  private static Map<String, Integer> tokenIds(JsonNode json, Path file) throws IOException {
    Map<String, Integer> ids = new HashMap<>();
    JsonNode vocab = json.path("model").path("vocab");
    if (vocab.isObject()) {
      for (var e : vocab.properties()) ids.put(e.getKey(), e.getValue().asInt());
    } else if (vocab.isArray()) {
      for (int i = 0; i < vocab.size(); i++) ids.put(vocab.get(i).path(0).asText(), i);
    } else {
      throw new IOException(file + ": model.vocab is missing");
    }
    for (JsonNode added : json.path("added_tokens")) {
      if (!added.path("content").isTextual() || !added.path("id").isInt()) {
        throw new IOException(file + ": added_tokens: expected \"id\" and \"content\" in "
            + added);
      }
      ids.put(added.get("content").textValue(), added.get("id").intValue());
    }
    return ids;
  }
}
