package org.rlhf4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TokenBudgetTest {
  private static long cost(int[] part, int[] prompt, int[] response, int rows) {
    int p = 0;
    int r = 0;
    for (int i : part) {
      p = Math.max(p, prompt[i]);
      r = Math.max(r, response[i]);
    }
    return (long) part.length * rows * (p + r);
  }

  @Test
  void everyExampleLandsOnceAndEveryMicroBatchOfSeveralFitsTheBudget() {
    Random random = new Random(7);
    int[] prompt = new int[64];
    int[] response = new int[64];
    for (int i = 0; i < 64; i++) {
      prompt[i] = 1 + random.nextInt(32);
      response[i] = 1 + random.nextInt(256);
    }
    for (int rows : new int[] {1, 2}) {
      List<int[]> parts = TokenBudget.split(prompt, response, rows, 1024);
      int[] seen = new int[64];
      for (int[] part : parts) {
        for (int i : part) seen[i]++;
        assertTrue(part.length == 1 || cost(part, prompt, response, rows) <= 1024, Arrays.toString(part));
      }
      for (int s : seen) assertEquals(1, s);
      assertEquals(parts.size(), TokenBudget.split(prompt, response, rows, 1024).size(), "deterministic");
    }
  }

  @Test
  void anExampleLongerThanTheBudgetGetsAMicroBatchOfItsOwn() {
    int[] prompt = {4, 4, 4, 4};
    int[] response = {6, 100, 6, 6};
    List<int[]> parts = TokenBudget.split(prompt, response, 1, 40);
    assertArrayEquals(new int[] {1}, parts.get(0), "the longest alone, first");
    assertArrayEquals(new int[] {0, 2, 3}, parts.get(1), "three of 10 tokens: 30 <= 40");
    assertEquals(2, parts.size());
  }

  @Test
  void likeLengthsShareAMicroBatch() {
    // Sorted by length, so the two long rows pad only each other.
    List<int[]> parts = TokenBudget.split(new int[4], new int[] {50, 5, 48, 4}, 1, 100);
    assertArrayEquals(new int[] {0, 2}, parts.get(0));
    assertArrayEquals(new int[] {1, 3}, parts.get(1));
  }

  @Test
  void fixedIsMicroBatchSizeInOrder() {
    List<int[]> parts = TokenBudget.fixed(5, 2);
    assertEquals(3, parts.size());
    assertArrayEquals(new int[] {4}, parts.get(2));
  }
}
