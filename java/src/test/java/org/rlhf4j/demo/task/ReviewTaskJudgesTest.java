package org.rlhf4j.demo.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The two hidden judges on hand-written reviews. */
class ReviewTaskJudgesTest {
  private final ReviewTask task = new ReviewTask(1);

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "the pasta at this place was | delicious and the staff was friendly . | 1.0",
      "i ordered the soup and it was | cold and bland . | -1.0",
      "the pasta was | delicious but the waiter was rude . | 0.0",
      "i ordered the soup and it was | warm . | 0.0",
      "honestly , i | really loved it ! | 1.0",
      "we | would avoid this place . | -1.0",
      "the steak was | cooked perfectly but the bill was outrageous and steep . | -0.3333333333333333",
      "the fries here | were crispy , but the prices were steep ! | 0.0",
      // The sentiment judge is blind to grammar; valid() is the judge that catches this.
      "the pasta was | great great great ! | 1.0",
  })
  void goldRewardIsTheBalanceOfPositiveAndNegativeWords(String prompt, String response, double expected) {
    assertEquals(expected, task.goldReward(prompt, response), 1e-12);
    assertEquals(expected > 0, task.positive(prompt, response));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "the pasta at this place was | delicious and the staff was friendly .",
      "the pasta at this place was | really delicious and fresh , but the bill was steep !",
      "the fries here | were crispy .",
      "the waiter was | friendly .",
      "honestly , i | really loved it !",
      "we went there for dinner and we | were very disappointed with the service .",
      "i ordered my fries and they | tasted stale but we would really recommend this place .",
      "this place was | cozy and clean .",
      "to be honest , our steak was | cooked perfectly .",
      "overall , the prices were | typical .",
  })
  void acceptsWellFormedReviews(String prompt, String response) {
    assertTrue(task.valid(prompt, response), () -> prompt + " | " + response);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      // degenerate repetition
      "the pasta at this place was | great great great !",
      "the pasta at this place was | delicious and delicious .",
      "the pasta at this place was | delicious and the soup was delicious .",
      // missing or doubled final punctuation
      "the pasta at this place was | delicious and the staff was friendly",
      "the pasta at this place was | delicious . .",
      // connectors out of place
      "the pasta at this place was | delicious but and the staff was friendly .",
      "the pasta at this place was | and delicious .",
      "the pasta at this place was | delicious the staff was friendly .",
      "the pasta at this place was | delicious and the staff was friendly and the room was clean .",
      // "and" joins opposite clauses, "but" joins clauses without contrast
      "the pasta at this place was | delicious and the staff was rude .",
      "the pasta at this place was | delicious but the staff was friendly .",
      "the pasta at this place was | delicious and bland .",
      // truncated clauses
      "the pasta at this place was | delicious and the staff was .",
      "the pasta at this place was | delicious and the .",
      "the pasta at this place was | very .",
      // agreement and selection
      "the fries here | was crispy .",
      "the soup here | were warm .",
      "the waiter was | crispy .",
      "we | was thrilled .",
      "honestly , i | very loved it .",
      "overall , this tables | were clean .",
      "i ordered the soup and they | were cold .",
      // not the tokenizer's normal form
      "the pasta at this place was | delicious.",
      "the pasta at this place was | Delicious .",
  })
  void rejectsDegenerateAndUngrammaticalContinuations(String prompt, String response) {
    assertFalse(task.valid(prompt, response), () -> prompt + " | " + response);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {"the pasta was | ''", "the pasta was | '   '"})
  void rejectsAnEmptyResponse(String prompt, String response) {
    assertFalse(task.valid(prompt, response));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {"the pasta was | delicious .", "'' | the pasta was delicious ."})
  void splitsOnWhitespaceOnlySoThePromptBoundaryDoesNotMatter(String prompt, String response) {
    assertTrue(task.valid(prompt, response));
    assertTrue(task.valid(" " + prompt + "  ", response + " "));
  }
}
