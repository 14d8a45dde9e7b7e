package org.rlhf4j.demo.tools;

import java.util.List;
import java.util.SplittableRandom;

/**
 * The price list the tools demo asks about: what each dish costs at each restaurant. A dish has
 * a usual price and each restaurant charges it within 3 of that, so the usual price (what a
 * guess says) is right about one time in seven and only the list knows the rest. The list is
 * drawn once from a fixed seed, the same in every run, because the {@code menu} tool that reads
 * it is built by class name with no arguments; the demo's seed draws which combinations are held
 * out and the training data. Immutable; thread-safe.
 */
public final class Menu {
  public static final List<String> RESTAURANTS = List.of("luigi", "sakura", "bombay", "olympia", "habana", "dragon",
      "bistro", "taverna", "saigon", "cantina", "nordic", "marrakech");
  public static final List<String> DISHES = List.of("pizza", "soup", "salad", "curry", "noodles", "burger", "tacos",
      "pasta", "steak", "sushi", "omelette", "dumplings");
  /** Prices run from 1 to this, each a word of the vocabulary. */
  public static final int MAX_PRICE = 20;
  private static final int SPREAD = 3;
  private static final long LIST_SEED = 20260;

  private static final int[] USUAL = new int[DISHES.size()];
  private static final int[][] PRICES = new int[RESTAURANTS.size()][DISHES.size()];

  static {
    SplittableRandom random = new SplittableRandom(LIST_SEED);
    for (int d = 0; d < DISHES.size(); d++) USUAL[d] = random.nextInt(1 + SPREAD, MAX_PRICE - SPREAD + 1);
    for (int r = 0; r < RESTAURANTS.size(); r++) {
      for (int d = 0; d < DISHES.size(); d++) PRICES[r][d] = USUAL[d] + random.nextInt(-SPREAD, SPREAD + 1);
    }
  }

  private Menu() {}

  /**
   * The price of dish at restaurant.
   *
   * @throws IllegalArgumentException naming the word when either is not on the list
   */
  public static int price(String restaurant, String dish) {
    return PRICES[index(RESTAURANTS, restaurant, "restaurant")][index(DISHES, dish, "dish")];
  }

  /** The dish's usual price: the best answer without the list. */
  public static int usualPrice(String dish) {
    return USUAL[index(DISHES, dish, "dish")];
  }

  private static int index(List<String> names, String name, String what) {
    int i = names.indexOf(name);
    if (i < 0) throw new IllegalArgumentException("no " + what + " named " + name);
    return i;
  }
}
