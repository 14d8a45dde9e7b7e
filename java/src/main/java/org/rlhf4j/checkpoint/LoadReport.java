package org.rlhf4j.checkpoint;

import java.util.List;

/**
 * What loading weights did. Immutable (the lists are copies) and thread-safe.
 *
 * @param loaded model tensors overwritten from the files
 * @param freshHeads model heads absent from the files, left at their fresh initialisation
 * @param droppedHeads head tensors of the files that the model lacks, skipped
 * @param ignored file tensors that are not parameters (buffers, a tied LM head), skipped
 */
public record LoadReport(List<String> loaded, List<String> freshHeads, List<String> droppedHeads, List<String> ignored) {
  public LoadReport {
    loaded = List.copyOf(loaded);
    freshHeads = List.copyOf(freshHeads);
    droppedHeads = List.copyOf(droppedHeads);
    ignored = List.copyOf(ignored);
  }

  /** One line for a log. */
  public String summary() {
    StringBuilder b = new StringBuilder("loaded " + loaded.size() + " tensors");
    if (!freshHeads.isEmpty()) b.append("; freshly initialised (not in the files): ").append(String.join(", ", freshHeads));
    if (!droppedHeads.isEmpty()) b.append("; dropped (the model has no such head): ").append(String.join(", ", droppedHeads));
    if (!ignored.isEmpty()) b.append("; ignored ").append(ignored.size()).append(" non-parameter tensors");
    return b.toString();
  }
}
