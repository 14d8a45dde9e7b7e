package org.rlhf4j.engine;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Locale;

/**
 * The DPO family's loss (r4j_dpo_options): sum over k of lossWeights[k] times the mean over
 * pairs of lossTypes[k], plus rpoAlpha times the chosen completions' NLL per token (RPO).
 *
 * @param beta the inverse temperature of the implicit reward (> 0)
 * @param labelSmoothing robust DPO's label-noise rate, [0, 0.5)
 * @param simpoGamma SimPO's target margin
 */
public record DpoOptions(List<LossType> lossTypes, List<Double> lossWeights, double beta, double labelSmoothing,
    double simpoGamma, double rpoAlpha) {

  /** R4J_DPO_*, in the header's order. */
  public enum LossType {
    SIGMOID, ROBUST, IPO, HINGE, SIMPO;

    /** The name in configs (TRL's loss_type). */
    public String configName() {
      return name().toLowerCase(Locale.ROOT);
    }

    public boolean needsReference() {
      return this != SIMPO;
    }
  }

  public DpoOptions {
    lossTypes = List.copyOf(lossTypes);
    lossWeights = List.copyOf(lossWeights);
    if (lossTypes.isEmpty() || lossTypes.size() > Layouts.DPO_MAX_LOSSES) {
      throw new IllegalArgumentException("dpo.loss_type lists 1 to " + Layouts.DPO_MAX_LOSSES + " losses, got "
          + lossTypes.size());
    }
    if (lossWeights.size() != lossTypes.size()) {
      throw new IllegalArgumentException("dpo.loss_weights has " + lossWeights.size() + " weights for "
          + lossTypes.size() + " losses in dpo.loss_type");
    }
    for (double w : lossWeights) {
      if (!Double.isFinite(w)) throw new IllegalArgumentException("dpo.loss_weights: " + w + " is not finite");
    }
    if (!(beta > 0) || Double.isInfinite(beta)) throw new IllegalArgumentException("dpo.beta must be > 0, got " + beta);
    if (!(labelSmoothing >= 0 && labelSmoothing < 0.5)) {
      throw new IllegalArgumentException("dpo.label_smoothing must be in [0, 0.5), got " + labelSmoothing);
    }
    if (!Double.isFinite(simpoGamma)) throw new IllegalArgumentException("dpo.simpo_gamma must be finite");
    if (!(rpoAlpha >= 0) || Double.isInfinite(rpoAlpha)) {
      throw new IllegalArgumentException("dpo.rpo_alpha must be >= 0, got " + rpoAlpha);
    }
  }

  /** One loss of weight 1 with TRL's other defaults (beta 0.1, no smoothing, gamma 0.5, no RPO). */
  public static DpoOptions of(LossType type, double beta) {
    return new DpoOptions(List.of(type), List.of(1.0), beta, 0.0, 0.5, 0.0);
  }

  /** Whether some loss compares with a reference model (all but SimPO). */
  public boolean needsReference() {
    return lossTypes.stream().anyMatch(LossType::needsReference);
  }

  void write(MemorySegment s) {
    Struct l = Layouts.DPO_OPTIONS;
    l.set(s, "n_losses", lossTypes.size());
    for (int k = 0; k < lossTypes.size(); k++) {
      l.setAt(s, "loss_types", k, lossTypes.get(k).ordinal());
      l.setAt(s, "loss_weights", k, lossWeights.get(k));
    }
    l.set(s, "beta", beta);
    l.set(s, "label_smoothing", labelSmoothing);
    l.set(s, "simpo_gamma", simpoGamma);
    l.set(s, "rpo_alpha", rpoAlpha);
  }

  /** The library's r4j_dpo_options_defaults(), read back (tests check the config's defaults against it). */
  public static DpoOptions nativeDefaults() {
    try (var arena = java.lang.foreign.Arena.ofConfined()) {
      MemorySegment s = arena.allocate(Layouts.DPO_OPTIONS.layout());
      NativeLibrary.get().dpoOptionsDefaults(s);
      Struct l = Layouts.DPO_OPTIONS;
      int n = l.getInt(s, "n_losses");
      LossType[] all = LossType.values();
      List<LossType> types = new java.util.ArrayList<>();
      List<Double> weights = new java.util.ArrayList<>();
      for (int k = 0; k < n; k++) {
        types.add(all[l.getIntAt(s, "loss_types", k)]);
        weights.add(l.getDoubleAt(s, "loss_weights", k));
      }
      return new DpoOptions(types, weights, l.getDouble(s, "beta"), l.getDouble(s, "label_smoothing"),
          l.getDouble(s, "simpo_gamma"), l.getDouble(s, "rpo_alpha"));
    }
  }
}
