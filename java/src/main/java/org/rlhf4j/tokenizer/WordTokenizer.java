package org.rlhf4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;

/**
 * The built-in word-level tokenizer of the demo task: a fixed vocabulary of words, the
 * punctuation marks {@code . , ! ? '} and the special tokens {@code <pad>} (id 0), {@code <bos>},
 * {@code <eos>} and {@code <unk>}.
 *
 * <p>Encoding cuts text at whitespace and cuts each punctuation mark out as a token of its own;
 * a word outside the vocabulary is {@code <unk>}. The text of {@code <pad>}, {@code <bos>} and
 * {@code <eos>} is recognised anywhere. Words are case-sensitive.
 *
 * <p>Decoding writes the <b>normal form</b>: tokens separated by one space, except that {@code .
 * , ! ?} follow the previous token directly and {@code '} joins its neighbours ({@code it's},
 * {@code don't}). So {@code "the food was great , and the staff was kind ."} decodes as {@code
 * "the food was great, and the staff was kind."}, and {@code decode(encode(s)).equals(s)} for
 * every s in normal form whose words are all in the vocabulary.
 *
 * <p>It saves itself as a Hugging Face {@code tokenizer.json} (a {@code WordLevel} model after a
 * {@code WhitespaceSplit} pre-tokenizer that also isolates the punctuation), which Hugging Face
 * tokenizers load with the same ids; having no decoder there, they decode to tokens joined by
 * spaces.
 *
 * <p>Immutable and thread-safe.
 */
public final class WordTokenizer implements Tokenizer {
  public static final String PAD = "<pad>";
  public static final String BOS = "<bos>";
  public static final String EOS = "<eos>";
  public static final String UNK = "<unk>";
  /** The punctuation marks, always in the vocabulary after the special tokens. */
  public static final List<String> PUNCTUATION = List.of(".", ",", "!", "?", "'");

  private static final String PUNCTUATION_CLASS = "[.,!?']";
  /** One punctuation mark, or a run of anything but whitespace and punctuation. */
  private static final Pattern TOKENS = Pattern.compile(
      PUNCTUATION_CLASS + "|[^\\s.,!?']+", Pattern.UNICODE_CHARACTER_CLASS);

  private final List<String> vocabulary;
  private final Map<String, Integer> ids;
  private final int bos;
  private final int eos;
  private final int unk;
  private final SpecialTokenSplitter splitter;

  private WordTokenizer(List<String> vocabulary, String source) {
    this.vocabulary = List.copyOf(vocabulary);
    Map<String, Integer> ids = new HashMap<>();
    for (int i = 0; i < vocabulary.size(); i++) {
      if (ids.putIfAbsent(vocabulary.get(i), i) != null) {
        throw new IllegalArgumentException(source + ": token \"" + vocabulary.get(i)
            + "\" appears twice");
      }
    }
    if (!PAD.equals(vocabulary.getFirst())) {
      throw new IllegalArgumentException(source + ": id 0 must be " + PAD);
    }
    for (String token : List.of(BOS, EOS, UNK)) {
      if (!ids.containsKey(token)) throw new IllegalArgumentException(source + ": lacks " + token);
    }
    this.ids = Map.copyOf(ids);
    this.bos = ids.get(BOS);
    this.eos = ids.get(EOS);
    this.unk = ids.get(UNK);
    this.splitter = new SpecialTokenSplitter(Map.of(PAD, 0, BOS, bos, EOS, eos));
  }

  /**
   * A tokenizer whose ids are: {@code <pad>} 0, {@code <bos>} 1, {@code <eos>} 2, {@code <unk>}
   * 3, the punctuation marks 4 to 8, then words in order from 9.
   *
   * @throws IllegalArgumentException when a word is empty, repeated, a special token, or
   *     contains whitespace or punctuation
   */
  public static WordTokenizer of(List<String> words) {
    List<String> vocabulary = new ArrayList<>(List.of(PAD, BOS, EOS, UNK));
    vocabulary.addAll(PUNCTUATION);
    var seen = new LinkedHashSet<String>();
    for (String word : words) {
      Matcher m = TOKENS.matcher(word);
      if (!m.matches() || PUNCTUATION.contains(word)) {
        throw new IllegalArgumentException("word \"" + word
            + "\" must be non-empty, without whitespace or any of . , ! ? '");
      }
      if (vocabulary.contains(word) || !seen.add(word)) {
        throw new IllegalArgumentException("word \"" + word + "\" is a special token or repeated");
      }
    }
    vocabulary.addAll(seen);
    return new WordTokenizer(vocabulary, "word tokenizer");
  }

  /** All tokens, in id order. */
  public List<String> vocabulary() {
    return vocabulary;
  }

  /** The id of <unk>, which stands for every word outside the vocabulary. */
  public int unkId() {
    return unk;
  }

  @Override
  public int[] encode(String text) {
    IntStream.Builder out = IntStream.builder();
    splitter.split(text, plain -> {
      Matcher m = TOKENS.matcher(plain);
      while (m.find()) out.add(ids.getOrDefault(m.group(), unk));
    }, out::add);
    return out.build().toArray();
  }

  @Override
  public String decode(int[] tokenIds, boolean skipSpecialTokens) {
    var text = new StringBuilder();
    boolean glueNext = true;
    for (int id : tokenIds) {
      if (id < 0 || id >= vocabulary.size()) {
        throw new IllegalArgumentException("token id " + id + " is not in the vocabulary (size "
            + vocabulary.size() + ")");
      }
      if (skipSpecialTokens && (id == 0 || id == bos || id == eos)) continue;
      String token = vocabulary.get(id);
      boolean attaches = PUNCTUATION.contains(token);
      if (!glueNext && !attaches) text.append(' ');
      text.append(token);
      glueNext = token.equals("'");
    }
    return text.toString();
  }

  @Override
  public int vocabSize() {
    return vocabulary.size();
  }

  @Override
  public int bosId() {
    return bos;
  }

  @Override
  public int eosId() {
    return eos;
  }

  @Override
  public int padId() {
    return 0;
  }

  /** The demo's sequences start with {@code <bos>}. */
  @Override
  public boolean prependsBos() {
    return true;
  }

  /** Writes this tokenizer as a Hugging Face {@code tokenizer.json} file. */
  public void save(Path tokenizerJson) throws IOException {
    var f = JsonNodeFactory.instance;
    ObjectNode root = f.objectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ArrayNode added = root.putArray("added_tokens");
    for (String token : List.of(PAD, BOS, EOS)) {
      added.addObject().put("id", ids.get(token)).put("content", token)
          .put("single_word", false).put("lstrip", false).put("rstrip", false)
          .put("normalized", false).put("special", true);
    }
    root.putNull("normalizer");
    root.set("pre_tokenizer", preTokenizer());
    root.putNull("post_processor");
    root.putNull("decoder");
    ObjectNode model = root.putObject("model");
    model.put("type", "WordLevel");
    ObjectNode vocab = model.putObject("vocab");
    for (int i = 0; i < vocabulary.size(); i++) vocab.put(vocabulary.get(i), i);
    model.put("unk_token", UNK);
    Files.writeString(tokenizerJson,
        JsonFiles.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(root));
  }

  /** Reads a {@code tokenizer.json} written by {@link #save}. */
  public static WordTokenizer load(Path tokenizerJson) throws IOException {
    JsonNode json = JsonFiles.read(tokenizerJson);
    if (!isOwnFormat(json)) {
      throw new IOException(tokenizerJson + ": not a word tokenizer: expected a WordLevel model"
          + " with unk_token " + UNK + " after this tokenizer's pre_tokenizer " + preTokenizer());
    }
    return fromJson(json, tokenizerJson);
  }

  /** True when a tokenizer.json is one this class writes (so it encodes exactly alike). */
  static boolean isOwnFormat(JsonNode json) {
    JsonNode model = json.path("model");
    return model.path("type").asText().equals("WordLevel")
        && model.path("unk_token").asText().equals(UNK)
        && !json.hasNonNull("normalizer")
        && preTokenizer().equals(json.get("pre_tokenizer"))
        && model.path("vocab").isObject();
  }

  /** The tokenizer of a tokenizer.json that {@link #isOwnFormat} accepts. */
  static WordTokenizer fromJson(JsonNode json, Path file) throws IOException {
    JsonNode vocab = json.get("model").get("vocab");
    String[] tokens = new String[vocab.size()];
    for (var e : vocab.properties()) {
      JsonNode id = e.getValue();
      if (!id.isInt() || id.intValue() < 0 || id.intValue() >= tokens.length
          || tokens[id.intValue()] != null) {
        throw new IOException(file + ": model.vocab: token \"" + e.getKey() + "\" has id " + id
            + "; ids must be 0 to " + (tokens.length - 1) + ", each once");
      }
      tokens[id.intValue()] = e.getKey();
    }
    try {
      return new WordTokenizer(List.of(tokens), file + ": model.vocab");
    } catch (IllegalArgumentException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  /** Whitespace split, then each punctuation mark on its own: the same cuts as {@link #TOKENS}. */
  private static JsonNode preTokenizer() {
    var f = JsonNodeFactory.instance;
    ObjectNode split = f.objectNode().put("type", "Split");
    split.putObject("pattern").put("Regex", PUNCTUATION_CLASS);
    split.put("behavior", "Isolated").put("invert", false);
    ObjectNode sequence = f.objectNode().put("type", "Sequence");
    sequence.putArray("pretokenizers")
        .add(f.objectNode().put("type", "WhitespaceSplit"))
        .add(split);
    return sequence;
  }
}
