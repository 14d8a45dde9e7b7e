package org.rlhf4j.train;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.function.UnaryOperator;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.CheckpointException;
import org.rlhf4j.checkpoint.HfConfig;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.checkpoint.ModelDirs;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.tokenizer.Tokenizers;

/**
 * The model a supervised run starts from (model.path: a model directory, or a run directory
 * whose newest checkpoint is taken), its tokenizer and its config.json, checked against the run
 * before any weight is read. Immutable and thread-safe.
 *
 * @param dir the model directory, whose tokenizer files the run's checkpoint copies
 */
public record StartingModel(Path dir, Tokenizer tokenizer, Checkpoint checkpoint) {

  /**
   * Opens model.path and checks that the tokenizer fits the model and that maxSeqLen fits its
   * context.
   *
   * @param maxSeqLenKey the key of maxSeqLen, for messages (sft.max_seq_len, rm.max_seq_len)
   * @throws IllegalArgumentException when the path is no model, has no tokenizer, or does not fit
   */
  public static StartingModel open(Path path, int maxSeqLen, String maxSeqLenKey) throws IOException {
    Path dir;
    Tokenizer tokenizer;
    Checkpoint checkpoint;
    try {
      dir = ModelDirs.resolve(path);
      checkpoint = Checkpoint.open(dir);
      tokenizer = Tokenizers.load(dir);
    } catch (CheckpointException | FileNotFoundException e) {
      throw new IllegalArgumentException("model.path: " + e.getMessage(), e);
    }
    ModelConfig model = checkpoint.config().model();
    if (tokenizer.vocabSize() > model.vocabSize()) {
      throw new IllegalArgumentException("model.path: " + dir + ": the tokenizer has " + tokenizer.vocabSize()
          + " ids but the model's vocab_size is " + model.vocabSize());
    }
    if (maxSeqLen > model.nPositions()) {
      throw new IllegalArgumentException(maxSeqLenKey + " (" + maxSeqLen + ") is longer than the context of the model "
          + dir + " (" + model.nPositions() + " positions)");
    }
    return new StartingModel(dir, tokenizer, checkpoint);
  }

  /** The model's config.json, to write beside the trained weights. */
  public HfConfig config() {
    return checkpoint.config();
  }

  /**
   * Creates the model on device with its config changed by adjust (heads, dtype, the seed of
   * fresh heads) and loads the weights; heads may be added (fresh) or dropped.
   */
  public Model load(String device, UnaryOperator<ModelConfig> adjust) {
    return checkpoint.loadModel(device, adjust, LoadOptions.allowHeadChanges()).model();
  }
}
