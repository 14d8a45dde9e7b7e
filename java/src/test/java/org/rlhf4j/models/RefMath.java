package org.rlhf4j.models;

import org.rlhf4j.models.HfTensors.Tensor;

/**
 * The operations the slow references share, one position at a time, in double precision on
 * plain arrays: nothing vectorised, nothing fused, so each line can be checked by eye.
 */
final class RefMath {
  private RefMath() {}

  /** nn.Linear: y = W x + b, W stored [out, in]; b may be null. */
  static double[] linear(double[] x, Tensor w, Tensor b) {
    int out = (int) w.shape()[0], in = (int) w.shape()[1];
    double[] y = new double[out];
    for (int o = 0; o < out; o++) {
      double sum = b == null ? 0 : b.values()[o];
      for (int i = 0; i < in; i++) sum += w.values()[o * in + i] * x[i];
      y[o] = sum;
    }
    return y;
  }

  /** GPT-2's Conv1D: y = x W + b, W stored [in, out]. */
  static double[] conv1d(double[] x, Tensor w, Tensor b) {
    int in = (int) w.shape()[0], out = (int) w.shape()[1];
    double[] y = new double[out];
    for (int o = 0; o < out; o++) {
      double sum = b.values()[o];
      for (int i = 0; i < in; i++) sum += x[i] * w.values()[i * out + o];
      y[o] = sum;
    }
    return y;
  }

  /** (x - mean) / sqrt(var + eps) * w + b, with the biased variance. */
  static double[] layerNorm(double[] x, Tensor w, Tensor b, double eps) {
    double mean = 0;
    for (double v : x) mean += v / x.length;
    double var = 0;
    for (double v : x) var += (v - mean) * (v - mean) / x.length;
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) y[i] = (x[i] - mean) / Math.sqrt(var + eps) * w.values()[i] + b.values()[i];
    return y;
  }

  /** x / sqrt(mean(x^2) + eps) * w. */
  static double[] rmsNorm(double[] x, Tensor w, double eps) {
    double meanSquare = 0;
    for (double v : x) meanSquare += v * v / x.length;
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) y[i] = x[i] / Math.sqrt(meanSquare + eps) * w.values()[i];
    return y;
  }

  /** Row i of an embedding table [rows, dim]. */
  static double[] row(Tensor table, int i) {
    int dim = (int) table.shape()[1];
    double[] out = new double[dim];
    for (int j = 0; j < dim; j++) out[j] = table.values()[i * dim + j];
    return out;
  }

  static double[] add(double[] a, double[] b) {
    double[] out = new double[a.length];
    for (int i = 0; i < a.length; i++) out[i] = a[i] + b[i];
    return out;
  }

  /** x[from .. from + heads * hd) as [heads][hd]. */
  static double[][] heads(double[] x, int from, int heads, int hd) {
    double[][] out = new double[heads][hd];
    for (int h = 0; h < heads; h++) System.arraycopy(x, from + h * hd, out[h], 0, hd);
    return out;
  }

  /**
   * Causal softmax attention, q [T][nh][hd], k and v [T][nkv][hd]; query head h reads kv head
   * h / (nh / nkv) (grouped-query attention; nkv = nh is plain multi-head). Returns [T][nh * hd].
   */
  static double[][] causalAttention(double[][][] q, double[][][] k, double[][][] v) {
    int len = q.length, nh = q[0].length, nkv = k[0].length, hd = q[0][0].length;
    double[][] out = new double[len][nh * hd];
    for (int t = 0; t < len; t++) {
      for (int h = 0; h < nh; h++) {
        int g = h / (nh / nkv);
        double[] scores = new double[t + 1];
        double max = Double.NEGATIVE_INFINITY;
        for (int s = 0; s <= t; s++) {
          double dot = 0;
          for (int i = 0; i < hd; i++) dot += q[t][h][i] * k[s][g][i];
          scores[s] = dot / Math.sqrt(hd);
          max = Math.max(max, scores[s]);
        }
        double norm = 0;
        for (int s = 0; s <= t; s++) norm += Math.exp(scores[s] - max);
        for (int s = 0; s <= t; s++) {
          double p = Math.exp(scores[s] - max) / norm;
          for (int i = 0; i < hd; i++) out[t][h * hd + i] += p * v[s][g][i];
        }
      }
    }
    return out;
  }
}
