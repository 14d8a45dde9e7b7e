package org.rlhf4j.demo.tools;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.rlhf4j.tokenizer.WordTokenizer;

/**
 * The tools demo's task: "what does pizza cost at luigi?", answered with the price alone ("12").
 * Only the {@code menu} tool knows the price; without it the best answer is the dish's usual
 * price, right about one time in seven. The seed draws the held-out (restaurant, dish)
 * combinations, which no training data shows, and the three restaurants where the SFT traces'
 * author looked prices up (85% of the time; 15% elsewhere, else it answered the usual price): so
 * the SFT policy can do both, about a third of its traces use the tool, and greedily it calls the
 * tool at those restaurants only. Immutable; thread-safe.
 */
public final class MenuTask {
  /** Held-out combinations of restaurant and dish, of 144. */
  public static final int HELD_OUT = 40;
  static final int LOOKUP_RESTAURANTS = 3;
  static final double LOOKUP_RATE = 0.85;
  static final double GUESS_LOOKUP_RATE = 0.15;

  /** One question and its answer. */
  public record Question(String restaurant, String dish, String text, String answer) {}

  private final List<int[]> train = new ArrayList<>();
  private final List<int[]> heldOut = new ArrayList<>();
  private final Set<String> lookups;

  public MenuTask(long seed) {
    Random random = new Random(seed * 0x9E3779B97F4A7C15L + 7);
    List<int[]> all = new ArrayList<>();
    for (int r = 0; r < Menu.RESTAURANTS.size(); r++) {
      for (int d = 0; d < Menu.DISHES.size(); d++) all.add(new int[] {r, d});
    }
    Collections.shuffle(all, random);
    heldOut.addAll(all.subList(0, HELD_OUT));
    train.addAll(all.subList(HELD_OUT, all.size()));
    List<String> restaurants = new ArrayList<>(Menu.RESTAURANTS);
    Collections.shuffle(restaurants, random);
    lookups = Set.copyOf(restaurants.subList(0, LOOKUP_RESTAURANTS));
  }

  /**
   * The question in normal form (words and punctuation as the word tokenizer decodes them). One
   * phrasing: with a second one ("how much is the pizza at luigi?") the quick budget's SFT left
   * the dish and the price half copied.
   */
  public static Question question(String restaurant, String dish) {
    String text = "what does " + dish + " cost at " + restaurant + "?";
    return new Question(restaurant, dish, text, Integer.toString(Menu.price(restaurant, dish)));
  }

  /** A question on every held-out combination: the judges' questions. */
  public List<Question> heldOutQuestions() {
    List<Question> out = new ArrayList<>();
    for (int[] c : heldOut) out.add(question(Menu.RESTAURANTS.get(c[0]), Menu.DISHES.get(c[1])));
    return out;
  }

  /** n questions on training combinations, drawn with replacement. */
  public List<Question> trainQuestions(int n, long seed) {
    Random random = new Random(seed);
    List<Question> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int[] c = train.get(random.nextInt(train.size()));
      out.add(question(Menu.RESTAURANTS.get(c[0]), Menu.DISHES.get(c[1])));
    }
    return out;
  }

  /** Whether a combination is held out (never in training data). */
  public boolean isHeldOut(String restaurant, String dish) {
    int r = Menu.RESTAURANTS.indexOf(restaurant), d = Menu.DISHES.indexOf(dish);
    return heldOut.stream().anyMatch(c -> c[0] == r && c[1] == d);
  }

  /**
   * n SFT traces on training questions, each TRL's conversational {@code messages}: a lookup
   * (the assistant calls menu, the tool answers, the assistant repeats the price) or a guess
   * (the assistant answers the dish's usual price).
   */
  public List<List<Map<String, Object>>> sftTraces(int n, long seed) {
    Random random = new Random(seed);
    List<List<Map<String, Object>>> out = new ArrayList<>();
    for (Question q : trainQuestions(n, seed + 1)) {
      double rate = lookups.contains(q.restaurant()) ? LOOKUP_RATE : GUESS_LOOKUP_RATE;
      out.add(random.nextDouble() < rate ? lookup(q) : guess(q));
    }
    return out;
  }

  static List<Map<String, Object>> lookup(Question q) {
    Map<String, Object> call = ordered("type", "function", "function",
        ordered("name", MenuTool.NAME, "arguments", ordered("restaurant", q.restaurant(), "dish", q.dish())));
    return List.of(message("user", q.text()),
        ordered("role", "assistant", "content", "", "tool_calls", List.of(call)),
        ordered("role", "tool", "name", MenuTool.NAME, "content", q.answer()),
        message("assistant", q.answer()));
  }

  static List<Map<String, Object>> guess(Question q) {
    return List.of(message("user", q.text()), message("assistant", Integer.toString(Menu.usualPrice(q.dish()))));
  }

  private static Map<String, Object> message(String role, String content) {
    return ordered("role", role, "content", content);
  }

  /** A map of keys and values in the order given, as the template iterates and the JSONL shows them. */
  private static Map<String, Object> ordered(Object... keysAndValues) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) m.put((String) keysAndValues[i], keysAndValues[i + 1]);
    return m;
  }

  /** The word tokenizer over {@link #vocabulary()}. */
  public static WordTokenizer tokenizer() {
    return WordTokenizer.of(vocabulary());
  }

  /** Every word the task's conversations, tool calls and tool results use (punctuation aside). */
  public static List<String> vocabulary() {
    Set<String> words = new HashSet<>();
    List<String> out = new ArrayList<>(List.of(ToolsTemplate.USER, ToolsTemplate.ASSISTANT, ToolsTemplate.TOOL,
        "<tool_call>", "</tool_call>", "{", "}", ":", "\"name\"", "\"arguments\"", "\"" + MenuTool.NAME + "\"",
        "\"restaurant\"", "\"dish\"", "what", "does", "cost", "at",
        // A second phrasing's words: unused, kept because the vocabulary's size and order seed the
        // initial weights the quick numbers were measured from (without them SFT reached 0.105,
        // not 0.068, and GRPO 0.425).
        "how", "much", "is", "the"));
    for (String name : Menu.RESTAURANTS) out.addAll(List.of(name, "\"" + name + "\""));
    for (String name : Menu.DISHES) out.addAll(List.of(name, "\"" + name + "\""));
    for (int p = 1; p <= Menu.MAX_PRICE; p++) out.add(Integer.toString(p));
    return out.stream().filter(words::add).toList();
  }
}
