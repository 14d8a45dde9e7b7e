package org.rlhf4j.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Preference pairs whose chosen side says "good" where the rejected says "bad", in random surroundings. */
public final class ToyPreferences {
  private static final String[] FILLER = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
      "the", "food", "was", "very", "and", "it", "is"};

  private ToyPreferences() {}

  /**
   * n JSONL lines {"prompt", "chosen", "rejected"} of TinyCheckpoints' words, seeded; the
   * completions start with a space, as TRL's prompt + completion concatenation wants.
   */
  public static Path write(Path file, int n, long seed) throws IOException {
    Random random = new Random(seed);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String prompt = words(random, 1 + random.nextInt(3));
      String before = words(random, random.nextInt(3));
      String after = words(random, random.nextInt(3));
      lines.add("{\"prompt\": \"" + prompt + "\", \"chosen\": \" " + join(before, "good", after)
          + "\", \"rejected\": \" " + join(before, "bad", after) + "\"}");
    }
    return Files.write(file, lines);
  }

  private static String words(Random random, int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) out.add(FILLER[random.nextInt(FILLER.length)]);
    return String.join(" ", out);
  }

  private static String join(String... parts) {
    return String.join(" ", List.of(parts).stream().filter(p -> !p.isEmpty()).toList());
  }
}
