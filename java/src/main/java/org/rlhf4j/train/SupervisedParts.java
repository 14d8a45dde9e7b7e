package org.rlhf4j.train;

import java.nio.file.Path;
import org.rlhf4j.checkpoint.HfConfig;
import org.rlhf4j.engine.Model;
import org.rlhf4j.tokenizer.Tokenizer;

/**
 * What a supervised trainer is built from: the model it trains, its data, and what its
 * checkpoints record besides the weights. Closing it frees the model.
 *
 * @param <E> an example: an SFT example, a preference pair
 */
public interface SupervisedParts<E> extends AutoCloseable {
  Model model();

  SupervisedData<E> data();

  /** The starting model's config.json, which checkpoints record with the trained model's heads. */
  HfConfig modelConfig();

  /** The tokenizer files copied into every checkpoint (null: none). */
  Path tokenizerDir();

  Tokenizer tokenizer();


  /** Frees the model. */
  @Override
  default void close() {
    model().close();
  }
}
