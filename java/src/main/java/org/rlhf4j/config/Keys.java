package org.rlhf4j.config;

import java.util.Collection;

/** Key names (camelCase components to snake_case keys) and the nearest-key suggestion. */
final class Keys {
  private Keys() {}

  /** klCoef -> kl_coef, beta1 -> beta1. */
  static String snake(String camel) {
    StringBuilder b = new StringBuilder(camel.length() + 4);
    for (char c : camel.toCharArray()) {
      if (Character.isUpperCase(c)) {
        b.append('_').append(Character.toLowerCase(c));
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  /** Levenshtein distance: insertions, deletions and substitutions. */
  static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) prev[j] = j;
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int substitute = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(substitute, Math.min(prev[j], cur[j - 1]) + 1);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  /**
   * The candidate nearest to key, or null when none is plausibly meant: within a third of the
   * key's length (at least 2 edits), or containing it or contained in it ("epochs" for
   * "ppo_epochs"). Ties go to the earlier candidate.
   */
  static String nearest(String key, Collection<String> candidates) {
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String c : candidates) {
      int d = distance(key, c);
      if (d < bestDistance) {
        best = c;
        bestDistance = d;
      }
    }
    if (best == null) return null;
    if (bestDistance <= Math.max(2, key.length() / 3)) return best;
    for (String c : candidates) {
      if (c.contains(key) || key.contains(c)) return c;
    }
    return null;
  }
}
