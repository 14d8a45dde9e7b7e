package org.rlhf4j.agent;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

/** Random mutations of valid tool-call text, seeded and bounded, for the parsers' no-throw tests. */
final class ParserFuzz {
  private static final String ALPHABET =
      "{}[]\":;,\\ <>/|tool_callpython_tag\u00e9\ud83d\ude00\u0000\n0123456789.eE-+nulltruefalse";

  private ParserFuzz() {}

  /** Parses iterations mutants of the seeds; returns how many well-formed calls they held. */
  static int run(ToolCallParser parser, String[] seeds, long seed, int iterations) {
    Random rnd = new Random(seed);
    int calls = 0;
    for (int iter = 0; iter < iterations; iter++) {
      StringBuilder s = new StringBuilder(seeds[rnd.nextInt(seeds.length)]);
      int edits = 1 + rnd.nextInt(6);
      for (int e = 0; e < edits; e++) {
        int at = s.isEmpty() ? 0 : rnd.nextInt(s.length() + 1);
        switch (rnd.nextInt(5)) {
          case 0 -> s.insert(at, ALPHABET.charAt(rnd.nextInt(ALPHABET.length())));
          case 1 -> { if (at < s.length()) s.deleteCharAt(at); }
          case 2 -> { if (at < s.length()) s.setCharAt(at, ALPHABET.charAt(rnd.nextInt(ALPHABET.length()))); }
          case 3 -> s.insert(at, rnd.nextBoolean() ? "<tool_call>" : "</tool_call>");
          default -> s.insert(at, "[".repeat(rnd.nextInt(3000))); // nesting past Jackson's depth limit
        }
      }
      var p = parser.parse(s.toString());
      calls += p.calls().size();
      for (ToolCall c : p.calls()) assertTrue(c.arguments().isObject());
    }
    return calls;
  }
}
