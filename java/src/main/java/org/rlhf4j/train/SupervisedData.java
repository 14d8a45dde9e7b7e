package org.rlhf4j.train;

import java.util.List;

/**
 * A supervised data set as its trainer sees it: training and held-out examples, and what the
 * length limit cost.
 *
 * @param <E> an example: an SFT example, a preference pair
 */
public interface SupervisedData<E> {
  List<E> train();

  List<E> eval();

  /** Rows skipped for being too long (data.too_long: skip). */
  int skippedTooLong();

  /** Rows cut to the length limit (data.too_long: truncate). */
  int truncated();
}
