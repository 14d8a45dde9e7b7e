package org.rlhf4j.config;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.rlhf4j.engine.LoraOptions;

/** Section {@code model.lora}: LoRA adapters on a frozen base (r = 0: full fine-tuning). */
public record LoraSection(
    @Doc("Adapter rank (0 = no LoRA: every weight trains).") int r,
    @Doc("lora_alpha: the update is scaled by alpha / r (alpha / sqrt(r) with use_rslora).") double alpha,
    @Doc("Dropout on the adapters' input in training passes.") double dropout,
    @Doc("Comma-separated PEFT module names (GPT-2: c_attn, attn.c_proj, c_fc, mlp.c_proj; Llama family, Qwen3 too: q_proj, "
        + "k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj); empty = all of them.") String targetModules,
    @Doc("rsLoRA: scale by alpha / sqrt(r).") boolean useRslora) {

  public LoraSection {
    Check.atLeast("model.lora.r", r, 0);
    Check.positive("model.lora.alpha", alpha);
    Check.halfOpen("model.lora.dropout", dropout, 0, 1);
    Check.notNull("model.lora.target_modules", targetModules);
  }

  public static LoraSection defaults() {
    return new LoraSection(0, 16, 0.05, "", false);
  }

  /** The adapters to add, seeded by seed, or empty when r = 0. */
  public Optional<LoraOptions> options(long seed) {
    if (r == 0) return Optional.empty();
    List<String> modules = Arrays.stream(targetModules.split(",")).map(String::strip).filter(m -> !m.isEmpty())
        .toList();
    return Optional.of(new LoraOptions(r, alpha, dropout, modules, useRslora, seed));
  }
}
