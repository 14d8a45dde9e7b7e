package org.rlhf4j.demo.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The task keeps its held-out questions out of training, and its traces both look up and guess. */
class MenuTaskTest {
  private final MenuTask task = new MenuTask(1);

  @Test
  void heldOutCombinationsAppearInNoTraceAndNoTrainingQuestion() {
    List<MenuTask.Question> heldOut = task.heldOutQuestions();
    assertEquals(MenuTask.HELD_OUT, heldOut.size());
    Set<String> questions = new HashSet<>();
    for (var q : heldOut) {
      assertTrue(task.isHeldOut(q.restaurant(), q.dish()));
      questions.add(q.text());
    }
    for (var q : task.trainQuestions(2000, 5)) assertFalse(task.isHeldOut(q.restaurant(), q.dish()), q.text());
    for (var trace : task.sftTraces(2000, 6)) assertFalse(questions.contains(trace.getFirst().get("content")));
    assertNotEquals(new MenuTask(2).heldOutQuestions(), heldOut, "the seed draws the held-out combinations");
  }

  @Test
  void aboutAThirdOfTheTracesUseTheToolAndGuessesAnswerTheUsualPrice() {
    List<List<Map<String, Object>>> traces = task.sftTraces(3000, 11);
    long lookups = traces.stream().filter(t -> t.size() == 4).count();
    assertTrue(lookups > 0.3 * traces.size() && lookups < 0.4 * traces.size(), lookups + " of " + traces.size());
    int right = 0, guesses = 0;
    for (var t : traces) {
      if (t.size() != 2) continue;
      guesses++;
      String question = (String) t.getFirst().get("content");
      String dish = question.split(" ")[2];
      assertEquals(Integer.toString(Menu.usualPrice(dish)), t.get(1).get("content"));
      String restaurant = question.substring(question.lastIndexOf(' ') + 1, question.length() - 1);
      if (Menu.price(restaurant, dish) == Menu.usualPrice(dish)) right++;
    }
    assertTrue(right < 0.3 * guesses, "a guess is right " + right + " of " + guesses + " times");
  }

  @Test
  void theExactMatchRewardReadsTheLastAssistantTurn() {
    ExactMatchReward reward = new ExactMatchReward();
    Map<String, Object> row = Map.of(ExactMatchReward.ANSWER, "12");
    String call = "<tool_call> { \"name\" : \"menu\", \"arguments\" : { \"restaurant\" : \"luigi\", \"dish\" : \"pizza\" } } </tool_call>";
    assertEquals(1, reward.score("q", call + " <tool> 12 <assistant> 12", row));
    assertEquals(1, reward.score("q", "12", row));
    assertEquals(0, reward.score("q", "11", row));
    assertEquals(0, reward.score("q", "12 12", row));
    assertEquals(0, reward.score("q", call, row), "a call alone answers nothing");
    assertEquals(0, reward.score("q", call + " <tool> 12 <assistant> " + call, row), "nor does a second call");
    var e = assertThrows(IllegalArgumentException.class, () -> reward.score("q", "12", Map.of()));
    assertEquals("exact-match reward: the prompt row has no \"answer\" string", e.getMessage());
  }
}
