package org.rlhf4j.config;

import java.nio.file.Path;
import java.util.regex.Pattern;

/** Section {@code reward}: where the scores come from and how they are shaped. */
public record RewardSection(
    @Doc("Scores from a reward model checkpoint (model) or a Java class (function).") Kind kind,
    @Doc("Reward model checkpoint directory (required for kind: model).") @Nullable Path modelPath,
    @Doc("Fully qualified class name of a Java reward function (kind: function; or use functions).")
        @Nullable String function,
    @Doc("Weighted reward functions summed into the score (kind: function): a list of {name: exact_match|regex|"
        + "valid_json|length_penalty, weight} or {class: a RewardFunction, weight}; exact_match and regex compare "
        + "with the prompt's JSONL field (default answer), regex extracts with pattern, length_penalty costs 1 per "
        + "word past max_words.") @Nullable RewardTerms functions,
    @Doc("Clip scores to [-c, c] (0 = off).") double scoreClip,
    @Doc("Normalise scores by their running mean and standard deviation.") boolean scoreNorm,
    @Doc("Score given to a response that ends without EOS or the stop token (null = off).")
        @Nullable Double missingEosPenalty) {

  private static final Pattern CLASS_NAME =
      Pattern.compile("\\p{javaJavaIdentifierStart}\\p{javaJavaIdentifierPart}*"
          + "(\\.\\p{javaJavaIdentifierStart}\\p{javaJavaIdentifierPart}*)*");

  /** The source of scores. */
  public enum Kind {
    MODEL,
    FUNCTION
  }

  public RewardSection {
    Check.notNull("kind", kind);
    if (function != null && !CLASS_NAME.matcher(function).matches()) {
      throw new ConfigException("function must be a fully qualified Java class name, got '" + function + "'");
    }
    Check.nonNegative("score_clip", scoreClip);
    if (missingEosPenalty != null) Check.finite("missing_eos_penalty", missingEosPenalty);
  }

  /** A reward model (path still to be given), no clipping, no normalisation, no EOS penalty. */
  public static RewardSection defaults() {
    return new RewardSection(Kind.MODEL, null, null, null, 0, false, null);
  }
}
