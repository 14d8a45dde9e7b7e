package org.rlhf4j.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;

/** Section {@code reward}: where the scores come from and how they are shaped. */
public record RewardSection(
    @Doc("Scores from a reward model checkpoint (model), a Java class (function) or an HTTP service (remote).") Kind kind,
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
        @Nullable Double missingEosPenalty,
    @Doc("kind: remote: the http(s) URL that gets POST {query, prompts, labels} and answers {rewards}.")
        @Nullable String url,
    @Doc("kind: remote: time one request may take.") Duration timeout,
    @Doc("kind: remote: further tries of a failed request (with doubling backoff from 1 s).") int retries,
    @Doc("kind: remote: samples per request.") int batchSize,
    @Doc("kind: remote: requests in flight at once.") int maxConcurrency) {


  /** The source of scores. */
  public enum Kind {
    MODEL,
    FUNCTION,
    REMOTE
  }

  public RewardSection {
    Check.notNull("kind", kind);
    if (function != null && !Check.CLASS_NAME.matcher(function).matches()) {
      throw new ConfigException("function must be a fully qualified Java class name, got '" + function + "'");
    }
    Check.nonNegative("score_clip", scoreClip);
    if (missingEosPenalty != null) Check.finite("missing_eos_penalty", missingEosPenalty);
    if (url != null) checkUrl(url);
    Check.notNull("timeout", timeout);
    Check.rule(timeout.isPositive(), "timeout must be > 0, got " + Durations.format(timeout));
    Check.atLeast("retries", retries, 0);
    Check.atLeast("batch_size", batchSize, 1);
    Check.atLeast("max_concurrency", maxConcurrency, 1);
  }

  private static void checkUrl(String url) {
    try {
      URI u = new URI(url);
      if (("http".equals(u.getScheme()) || "https".equals(u.getScheme())) && u.getHost() != null) return;
    } catch (URISyntaxException e) {
      // falls through to the one message below
    }
    throw new ConfigException("url must be an http:// or https:// URL with a host, got '" + url + "'");
  }

  /**
   * A reward model (path still to be given), no clipping, no normalisation, no EOS penalty; for
   * remote: 60 s per request, 3 retries, 64 samples per request, 4 requests in flight.
   */
  public static RewardSection defaults() {
    return new RewardSection(Kind.MODEL, null, null, null, 0, false, null, null, Duration.ofSeconds(60), 3, 64, 4);
  }
}
