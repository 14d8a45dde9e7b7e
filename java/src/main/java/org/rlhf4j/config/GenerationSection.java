package org.rlhf4j.config;

/** Section {@code generation}: how responses are sampled during rollouts. */
public record GenerationSection(
    @Doc("Most tokens generated per response.") int maxNewTokens,
    @Doc("Sampling temperature (0 = greedy; PPO needs > 0).") double temperature,
    @Doc("Sample among the k likeliest tokens (0 = off).") int topK,
    @Doc("Sample from the smallest set of tokens with this much probability (1 = off).") double topP,
    @Doc("Token text that ends a response like EOS, e.g. \".\" (null = none). Conversational prompts already stop"
        + " at the chat template's end-of-turn token (e.g. <|im_end|>): beside a different one this is an error.")
        @Nullable String stopToken,
    @Doc("Responses sampled per prompt, one group (null = the ppo preset's: 1; grpo, dr_grpo 8; dapo 16; rloo 2).")
        @Nullable Integer numSamples) {

  public GenerationSection {
    Check.atLeast("max_new_tokens", maxNewTokens, 1);
    Check.nonNegative("temperature", temperature);
    Check.atLeast("top_k", topK, 0);
    Check.openClosed("top_p", topP, 0, 1);
    if (stopToken != null && stopToken.isEmpty()) throw new ConfigException("stop_token must not be empty");
    if (numSamples != null) Check.atLeast("num_samples", numSamples, 1);
  }

  /** 32 new tokens, plain sampling at temperature 1, no stop token, the preset's samples per prompt. */
  public static GenerationSection defaults() {
    return new GenerationSection(32, 1.0, 0, 1.0, null, null);
  }
}
