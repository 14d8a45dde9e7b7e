package org.rlhf4j.ppo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.CheckpointWriter;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.train.TokenizerFiles;

/**
 * What a PPO checkpoint holds: the policy (and a separate critic as the sub-model "critic"),
 * their optimizers' states under "policy." and "critic.", the tokenizer files and {@link
 * PpoState} as trainer_state.json.
 */
final class PpoCheckpoint {
  private PpoCheckpoint() {}

  static CheckpointWriter writer(PpoParts parts, PpoLearning learning, PpoState state) {
    CheckpointWriter w = new CheckpointWriter()
        .model(parts.policy(), parts.policyConfig().withModel(parts.policy().config()))
        .optimizer("policy.", learning.policyOptimizer())
        .trainerState(new ObjectMapper().valueToTree(state));
    if (parts.critic() != null) {
      w.subModel("critic", parts.critic(), parts.policyConfig().withModel(parts.critic().config()));
      w.optimizer("critic.", learning.criticOptimizer());
    }
    TokenizerFiles.copyInto(w, parts.tokenizerDir());
    return w;
  }

  /**
   * Loads the checkpoint c in dir into the models, optimizers, prompt cursor and feedback state;
   * returns its trainer state (json) for the trainer's own counters.
   */
  static PpoState restore(Checkpoint c, JsonNode json, Path dir, PpoParts parts, PpoLearning learning,
      PpoFeedback feedback) {
    PpoState st;
    try {
      st = new ObjectMapper().treeToValue(json, PpoState.class);
    } catch (IOException e) {
      throw new IllegalStateException(dir + "/trainer_state.json: " + e.getMessage(), e);
    }
    c.loadWeights(parts.policy(), LoadOptions.strict());
    c.loadOptimizer(learning.policyOptimizer(), "policy.");
    if (parts.critic() != null) {
      c.subModel("critic").loadWeights(parts.critic(), LoadOptions.strict());
      c.loadOptimizer(learning.criticOptimizer(), "critic.");
    }
    parts.prompts().restore(st.promptCursor());
    feedback.restore(st);
    learning.restore(st.optimizerSteps(), st.skippedSteps());
    return st;
  }
}
