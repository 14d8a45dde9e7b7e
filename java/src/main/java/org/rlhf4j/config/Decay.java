package org.rlhf4j.config;

/** Shape of the learning rate after warm-up; see {@link LrSchedule}. */
public enum Decay {
  /** Stays at the base rate. */
  CONSTANT,
  /** Falls linearly to min_lr_ratio * lr at the last step. */
  LINEAR,
  /** Half a cosine down to min_lr_ratio * lr at the last step. */
  COSINE
}
