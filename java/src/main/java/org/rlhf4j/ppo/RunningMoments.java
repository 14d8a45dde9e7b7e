package org.rlhf4j.ppo;

/**
 * Running mean and standard deviation of scores across iterations (Chan et al.'s parallel
 * update), for score normalisation. Part of the trainer state. Not thread-safe.
 */
public final class RunningMoments {
  private double mean;
  private double var; // population variance of everything seen
  private long count;

  public RunningMoments() {}

  /** Continues from a checkpoint's statistics. */
  public void restore(double mean, double var, long count) {
    this.mean = mean;
    this.var = var;
    this.count = count;
  }

  /** Folds a batch in. */
  public void update(float[] xs) {
    if (xs.length == 0) return;
    double batchMean = 0;
    for (float x : xs) batchMean += x;
    batchMean /= xs.length;
    double batchVar = 0;
    for (float x : xs) batchVar += (x - batchMean) * (x - batchMean);
    batchVar /= xs.length;
    long total = count + xs.length;
    double delta = batchMean - mean;
    double m2 = var * count + batchVar * xs.length + delta * delta * count * xs.length / total;
    mean += delta * xs.length / total;
    var = m2 / total;
    count = total;
  }

  public double mean() {
    return mean;
  }

  /** Population variance. */
  public double var() {
    return var;
  }

  /** Sample standard deviation (1 until there are two values, so dividing by it is safe). */
  public double std() {
    if (count < 2) return 1.0;
    double s = Math.sqrt(var * count / (count - 1));
    return s > 0 ? s : 1.0;
  }

  public long count() {
    return count;
  }
}
