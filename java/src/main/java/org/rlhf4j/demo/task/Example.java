package org.rlhf4j.demo.task;

import java.util.Objects;

/**
 * One supervised example: a review opening and its continuation, each in the word tokenizer's
 * normal form (lower case, tokens separated by single spaces, punctuation its own token).
 */
public record Example(String prompt, String response) {
  public Example {
    Objects.requireNonNull(prompt, "prompt");
    Objects.requireNonNull(response, "response");
  }

  /** The whole review: prompt, one space, response. */
  public String text() {
    return prompt + " " + response;
  }
}
