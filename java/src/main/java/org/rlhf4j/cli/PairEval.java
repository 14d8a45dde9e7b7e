package org.rlhf4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.data.ChatPrompts;
import org.rlhf4j.data.DataException;
import org.rlhf4j.data.PromptFile;
import org.rlhf4j.data.Row;
import org.rlhf4j.dpo.DpoBatch;
import org.rlhf4j.dpo.DpoData;
import org.rlhf4j.dpo.DpoMetrics;
import org.rlhf4j.dpo.DpoPair;
import org.rlhf4j.engine.Dpo;
import org.rlhf4j.engine.DpoOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.tokenizer.Tokenizer;

/**
 * {@code eval --pairs}: a policy's implicit DPO reward beta (pi - ref) on preference pairs
 * against its reference, with TRL's metric names (loss is the sigmoid DPO loss), and per pair
 * the completion tokens scored and the four summed log-probs, so anyone can recompute them.
 */
final class PairEval {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One pair's tokens and log-probs. */
  record Scored(DpoPair pair, double chosen, double rejected, double refChosen, double refRejected) {}

  private PairEval() {}

  /**
   * Scores every pair of file (prompt + completion cut to the model's context, a prompt that
   * fills it dropped and counted), in batches of batch pairs; returns the metrics and the pairs.
   */
  static Map<String, Double> run(Model policy, Model reference, Tokenizer tokenizer, Path modelDir, Path file,
      String promptField, double beta, int batch, List<Scored> scored) throws IOException {
    List<DpoPair> pairs = new ArrayList<>();
    int[] counts = new int[3];
    int maxLength = (int) policy.config().nPositions();
    ChatPrompts chat = new ChatPrompts(modelDir);
    List<Row> rows = PromptFile.readRows(file, org.rlhf4j.config.DataSection.Format.AUTO, "text");
    for (int i = 0; i < rows.size(); i++) {
      DpoPair p = DpoData.encode(rows.get(i), promptField, maxLength, tokenizer, chat, counts);
      if (p != null) pairs.add(p);
    }
    if (pairs.isEmpty()) throw new DataException(file + ": no pair fits the model's context of " + maxLength + " tokens");
    DpoOptions options = DpoOptions.of(DpoOptions.LossType.SIGMOID, beta);
    int pad = tokenizer.paddingId();
    DpoMetrics metrics = new DpoMetrics();
    double lossSum = 0;
    for (int from = 0; from < pairs.size(); from += batch) {
      List<DpoPair> chunk = pairs.subList(from, Math.min(pairs.size(), from + batch));
      DpoBatch b = DpoBatch.of(chunk, pad);
      double[] ref = Dpo.sequenceLogps(reference, b.tokens(), b.completionMask()).logps();
      Dpo.Result r = Dpo.loss(policy, b.tokens(), b.completionMask(), ref, options, 1, false);
      metrics.add(r.stats());
      lossSum += r.stats().loss() * chunk.size();
      int n = chunk.size();
      for (int i = 0; i < n; i++) {
        scored.add(new Scored(chunk.get(i), r.logps()[i], r.logps()[n + i], ref[i], ref[n + i]));
      }
    }
    Map<String, Double> out = new LinkedHashMap<>();
    out.put("pairs", (double) pairs.size());
    out.put("skipped_too_long", (double) counts[0]);
    out.put("loss", lossSum / pairs.size());
    out.putAll(metrics.drain(false, false));
    return out;
  }

  static void print(PrintWriter w, Path model, Path reference, Path file, double beta, Map<String, Double> metrics) {
    w.printf("eval of %s on the pairs of %s against the reference %s (beta %s)%n", model, file, reference, beta);
    metrics.forEach((k, x) -> w.printf("  %-22s %s%n", k, format(x)));
  }

  private static String format(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15
        ? Long.toString((long) v) : String.format(java.util.Locale.ROOT, "%.6g", v);
  }

  /** One JSON line per pair: token ids and the summed log-probs of policy and reference. */
  static void write(BufferedWriter out, List<Scored> scored) throws IOException {
    for (Scored s : scored) {
      ObjectNode o = JSON.createObjectNode();
      o.put("line", s.pair().line());
      ids(o, "prompt_ids", s.pair().prompt());
      ids(o, "chosen_ids", s.pair().chosen());
      ids(o, "rejected_ids", s.pair().rejected());
      o.put("logps_chosen", s.chosen());
      o.put("logps_rejected", s.rejected());
      o.put("ref_logps_chosen", s.refChosen());
      o.put("ref_logps_rejected", s.refRejected());
      out.write(JSON.writeValueAsString(o));
      out.write('\n');
    }
  }

  private static void ids(ObjectNode o, String name, int[] ids) {
    var a = o.putArray(name);
    for (int id : ids) a.add(id);
  }
}
