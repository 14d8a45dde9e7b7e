package org.rlhf4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;

/**
 * GPT-2's byte-level BPE, read from {@code vocab.json} (or {@code encoder.json}) and {@code
 * merges.txt} (or {@code vocab.bpe}). Text is cut into pieces by GPT-2's pattern, each piece's
 * UTF-8 bytes become printable characters, and the piece is merged pair by pair, lowest merge
 * rank first. Decoding maps the characters back to bytes and reads them as UTF-8, replacing
 * invalid sequences with U+FFFD.
 *
 * <p>The special tokens (those at the bos, eos and pad ids; {@code <|endoftext|>}, id 50256 in
 * GPT-2, by default) are recognised in text as Hugging Face does with added tokens, and skipped
 * by {@code decode(ids, true)}.
 *
 * <p>Immutable and thread-safe: the merge cache is a concurrent map.
 */
public final class Gpt2BpeTokenizer implements Tokenizer {
  /** GPT-2's one special token: beginning, end and padding of every sequence. */
  public static final String END_OF_TEXT = "<|endoftext|>";

  /**
   * GPT-2's pre-tokenization. Whitespace is Unicode's White_Space, as in the reference's
   * {@code regex} module and in Hugging Face tokenizers (Java's plain \s is ASCII only).
   */
  private static final Pattern PIECES = Pattern.compile(
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
      Pattern.UNICODE_CHARACTER_CLASS);

  /** Pieces cached at most; beyond it new pieces are merged every time (memory stays bounded). */
  private static final int CACHE_LIMIT = 100_000;

  private final Map<String, Integer> encoder;
  private final String[] decoder;
  /** Rank of the merge "left right" (tokens never contain a space, so the key is unambiguous). */
  private final Map<String, Integer> mergeRanks;
  private final Map<String, int[]> cache;
  private final SpecialIds specialIds;
  private final boolean[] special;
  private final SpecialTokenSplitter splitter;

  private Gpt2BpeTokenizer(Map<String, Integer> encoder, String[] decoder,
      Map<String, Integer> mergeRanks, Map<String, int[]> cache, SpecialIds specialIds) {
    this.encoder = encoder;
    this.decoder = decoder;
    this.mergeRanks = mergeRanks;
    this.cache = cache;
    this.specialIds = specialIds;
    this.special = new boolean[decoder.length];
    Map<String, Integer> specialTokens = new HashMap<>();
    for (int id : new int[] {specialIds.bos(), specialIds.eos(), specialIds.pad()}) {
      if (id < 0) continue;
      if (id >= decoder.length || decoder[id] == null) {
        throw new IllegalArgumentException("special id " + id + " is not in the vocabulary");
      }
      special[id] = true;
      specialTokens.put(decoder[id], id);
    }
    this.splitter = new SpecialTokenSplitter(specialTokens);
  }

  /**
   * Reads a vocabulary ({@code vocab.json}: token to id) and its merges ({@code merges.txt}: one
   * "left right" pair a line, highest priority first, after an optional "#version" line).
   * {@code <|endoftext|>}, when the vocabulary has it, is bos, eos and pad.
   *
   * @throws IOException when a file is missing or malformed, or a merge uses a token the
   *     vocabulary lacks; the message names the file and line
   */
  public static Gpt2BpeTokenizer load(Path vocabJson, Path merges) throws IOException {
    Map<String, Integer> encoder = readVocab(vocabJson);
    int size = encoder.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
    String[] decoder = new String[size];
    encoder.forEach((token, id) -> decoder[id] = token);
    Map<String, Integer> ranks = readMerges(merges, encoder);
    Integer eot = encoder.get(END_OF_TEXT);
    SpecialIds ids = eot == null ? SpecialIds.NONE : new SpecialIds(eot, eot, eot);
    return new Gpt2BpeTokenizer(Map.copyOf(encoder), decoder, Map.copyOf(ranks),
        new ConcurrentHashMap<>(), ids);
  }

  /** This tokenizer with other special ids (each -1 or an id of the vocabulary). */
  Gpt2BpeTokenizer withSpecialIds(SpecialIds ids) {
    return new Gpt2BpeTokenizer(encoder, decoder, mergeRanks, cache, ids);
  }

  /** The id of a token's text, or -1. */
  int idOf(String token) {
    return encoder.getOrDefault(token, -1);
  }

  @Override
  public int[] encode(String text) {
    IntStream.Builder ids = IntStream.builder();
    splitter.split(text, plain -> {
      Matcher m = PIECES.matcher(plain);
      while (m.find()) {
        for (int id : bpe(ByteLevel.encode(m.group()))) ids.add(id);
      }
    }, ids::add);
    return ids.build().toArray();
  }

  @Override
  public String decode(int[] ids, boolean skipSpecialTokens) {
    var bytes = new ByteArrayOutputStream();
    for (int id : ids) {
      if (id < 0 || id >= decoder.length || decoder[id] == null) {
        throw new IllegalArgumentException("token id " + id + " is not in the vocabulary (size "
            + decoder.length + ")");
      }
      if (skipSpecialTokens && special[id]) continue;
      ByteLevel.appendBytes(decoder[id], bytes);
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }

  @Override
  public int vocabSize() {
    return decoder.length;
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

  /** The ids of one piece (already byte-level characters). */
  private int[] bpe(String piece) {
    int[] cached = cache.get(piece);
    if (cached != null) return cached;
    List<String> word = new ArrayList<>(piece.length());
    for (int i = 0; i < piece.length(); i++) word.add(piece.substring(i, i + 1));
    while (word.size() > 1) {
      int bestRank = Integer.MAX_VALUE;
      String left = null;
      String right = null;
      for (int i = 0; i + 1 < word.size(); i++) {
        Integer rank = mergeRanks.get(word.get(i) + " " + word.get(i + 1));
        if (rank != null && rank < bestRank) {
          bestRank = rank;
          left = word.get(i);
          right = word.get(i + 1);
        }
      }
      if (left == null) break;
      // Merge every occurrence of the best pair, left to right, as the reference does.
      List<String> merged = new ArrayList<>(word.size());
      for (int i = 0; i < word.size(); i++) {
        if (i + 1 < word.size() && word.get(i).equals(left) && word.get(i + 1).equals(right)) {
          merged.add(left + right);
          i++;
        } else {
          merged.add(word.get(i));
        }
      }
      word = merged;
    }
    int[] ids = new int[word.size()];
    for (int i = 0; i < ids.length; i++) ids[i] = encoder.get(word.get(i));
    if (cache.size() < CACHE_LIMIT) cache.put(piece, ids);
    return ids;
  }

  private static Map<String, Integer> readVocab(Path file) throws IOException {
    JsonNode json = JsonFiles.read(file);
    if (!json.isObject()) throw new IOException(file + ": expected an object of token to id");
    Map<String, Integer> vocab = new LinkedHashMap<>();
    Map<Integer, String> seen = new HashMap<>();
    for (var e : json.properties()) {
      JsonNode id = e.getValue();
      if (!id.isInt() || id.intValue() < 0) {
        throw new IOException(file + ": token \"" + e.getKey() + "\" has id " + id
            + ", expected an integer >= 0");
      }
      String other = seen.put(id.intValue(), e.getKey());
      if (other != null) {
        throw new IOException(file + ": tokens \"" + other + "\" and \"" + e.getKey()
            + "\" share id " + id);
      }
      vocab.put(e.getKey(), id.intValue());
    }
    // Every piece starts as single bytes: without them BPE could end on an unknown symbol.
    for (int b = 0; b < 256; b++) {
      String token = String.valueOf(ByteLevel.charOf(b));
      if (!vocab.containsKey(token)) {
        throw new IOException(file + ": lacks the token \"" + token + "\" of byte " + b);
      }
    }
    return vocab;
  }

  private static Map<String, Integer> readMerges(Path file, Map<String, Integer> vocab)
      throws IOException {
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    Map<String, Integer> ranks = new HashMap<>();
    for (int n = 0; n < lines.size(); n++) {
      String line = lines.get(n);
      if (line.isEmpty() || (n == 0 && line.startsWith("#version"))) continue;
      String[] pair = line.split(" ", -1);
      String where = file + ":" + (n + 1);
      if (pair.length != 2 || pair[0].isEmpty() || pair[1].isEmpty()) {
        throw new IOException(where + ": expected two tokens separated by one space, got \""
            + line + "\"");
      }
      for (String token : new String[] {pair[0], pair[1], pair[0] + pair[1]}) {
        if (!vocab.containsKey(token)) {
          throw new IOException(where + ": token \"" + token + "\" is not in the vocabulary");
        }
      }
      ranks.putIfAbsent(line, ranks.size());
    }
    return ranks;
  }
}
