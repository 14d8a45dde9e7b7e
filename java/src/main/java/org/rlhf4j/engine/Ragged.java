package org.rlhf4j.engine;

import java.util.List;

/** Rows of different lengths packed for the ABI: data [rows, stride] with lengths[rows]. */
record Ragged(int[] data, int[] lengths, int stride) {
  static Ragged of(List<int[]> rows, String what) {
    if (rows.isEmpty()) throw new IllegalArgumentException(what + ": empty batch");
    int stride = 1;
    for (int i = 0; i < rows.size(); i++) {
      int[] r = rows.get(i);
      if (r == null || r.length == 0) throw new IllegalArgumentException(what + "[" + i + "] is empty");
      stride = Math.max(stride, r.length);
    }
    int[] data = new int[rows.size() * stride];
    int[] lengths = new int[rows.size()];
    for (int i = 0; i < rows.size(); i++) {
      System.arraycopy(rows.get(i), 0, data, i * stride, rows.get(i).length);
      lengths[i] = rows.get(i).length;
    }
    return new Ragged(data, lengths, stride);
  }
}
