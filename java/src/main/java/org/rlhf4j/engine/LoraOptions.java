package org.rlhf4j.engine;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.engine.ModelConfig.Arch;

/**
 * LoRA adapters (r4j_lora_options): y = W x + scale * B A dropout(x) on the projections named
 * by targetModules, scale = alpha / r (alpha / sqrt(r) with rsLoRA).
 *
 * @param targetModules PEFT's module names (GPT-2: c_attn, attn.c_proj, c_fc, mlp.c_proj, or
 *     c_proj for both; Llama: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj);
 *     empty = every projection of the architecture
 * @param seed the seed of lora_A's initialisation
 */
public record LoraOptions(int r, double alpha, double dropout, List<String> targetModules, boolean useRslora,
    long seed) {

  private static final Map<String, Integer> GPT2 = new LinkedHashMap<>();
  private static final Map<String, Integer> LLAMA = new LinkedHashMap<>();

  static {
    GPT2.put("c_attn", 1);
    GPT2.put("attn.c_proj", 1 << 1);
    GPT2.put("c_fc", 1 << 2);
    GPT2.put("mlp.c_proj", 1 << 3);
    String[] llama = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
    for (int i = 0; i < llama.length; i++) LLAMA.put(llama[i], 1 << (4 + i));
  }

  public LoraOptions {
    if (r < 1) throw new IllegalArgumentException("lora.r must be >= 1, got " + r);
    if (!(alpha > 0) || Double.isInfinite(alpha)) throw new IllegalArgumentException("lora.alpha must be > 0, got " + alpha);
    if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("lora.dropout must be in [0, 1), got " + dropout);
    targetModules = List.copyOf(targetModules);
  }

  /** PEFT's defaults but for r and alpha: dropout 0, every projection, no rsLoRA. */
  public static LoraOptions of(int r, double alpha) {
    return new LoraOptions(r, alpha, 0.0, List.of(), false, 0);
  }

  public double scale() {
    return useRslora ? alpha / Math.sqrt(r) : alpha / r;
  }

  private static Map<String, Integer> names(Arch arch) {
    return arch == Arch.GPT2 ? GPT2 : LLAMA;
  }

  /** The R4J_LORA_* bits of the target modules for arch; rejects names it does not have. */
  public int targetBits(Arch arch) {
    Map<String, Integer> known = names(arch);
    int bits = 0;
    for (String m : targetModules) {
      Integer b = known.get(m);
      if (b == null && arch == Arch.GPT2 && m.equals("c_proj")) b = known.get("attn.c_proj") | known.get("mlp.c_proj");
      if (b == null) {
        throw new IllegalArgumentException("lora.target_modules: '" + m + "' is no projection of " + arch
            + " (known: " + String.join(", ", known.keySet()) + ")");
      }
      bits |= b;
    }
    return bits;
  }

  /** Module names for bits, in the architecture's order (what adapter_config.json lists). */
  public static List<String> moduleNames(Arch arch, int bits) {
    List<String> out = new ArrayList<>();
    for (var e : names(arch).entrySet()) {
      if ((bits & e.getValue()) != 0) out.add(e.getKey());
    }
    return out;
  }

  void write(MemorySegment s, Arch arch) {
    Struct l = Layouts.LORA_OPTIONS;
    l.set(s, "r", (long) r);
    l.set(s, "alpha", alpha);
    l.set(s, "dropout", dropout);
    l.set(s, "target_modules", targetBits(arch));
    l.set(s, "use_rslora", useRslora);
    l.set(s, "seed", seed);
  }

  static LoraOptions read(MemorySegment s, Arch arch) {
    Struct l = Layouts.LORA_OPTIONS;
    return new LoraOptions((int) l.getLong(s, "r"), l.getDouble(s, "alpha"), l.getDouble(s, "dropout"),
        moduleNames(arch, l.getInt(s, "target_modules")), l.getBool(s, "use_rslora"), l.getLong(s, "seed"));
  }
}
