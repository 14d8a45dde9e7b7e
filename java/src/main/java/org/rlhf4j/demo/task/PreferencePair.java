package org.rlhf4j.demo.task;

import java.util.Objects;

/**
 * Two continuations of one prompt; {@code chosen} is the one the (possibly noisy) labeller
 * preferred. Texts are in the word tokenizer's normal form.
 */
public record PreferencePair(String prompt, String chosen, String rejected) {
  public PreferencePair {
    Objects.requireNonNull(prompt, "prompt");
    Objects.requireNonNull(chosen, "chosen");
    Objects.requireNonNull(rejected, "rejected");
  }
}
