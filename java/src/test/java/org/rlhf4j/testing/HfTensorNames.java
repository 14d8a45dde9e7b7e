package org.rlhf4j.testing;

import java.util.List;
import java.util.stream.Stream;

/** Tensor names as Hugging Face's models and TRL write them, for the tests of saved checkpoints. */
public final class HfTensorNames {
  /** GPT2LMHeadModel's state dict at two layers, less the tied lm_head.weight (save_pretrained leaves it out too). */
  public static final List<String> GPT2_TWO_LAYERS = List.of(
      "transformer.wte.weight", "transformer.wpe.weight",
      "transformer.h.0.ln_1.weight", "transformer.h.0.ln_1.bias",
      "transformer.h.0.attn.c_attn.weight", "transformer.h.0.attn.c_attn.bias",
      "transformer.h.0.attn.c_proj.weight", "transformer.h.0.attn.c_proj.bias",
      "transformer.h.0.ln_2.weight", "transformer.h.0.ln_2.bias",
      "transformer.h.0.mlp.c_fc.weight", "transformer.h.0.mlp.c_fc.bias",
      "transformer.h.0.mlp.c_proj.weight", "transformer.h.0.mlp.c_proj.bias",
      "transformer.h.1.ln_1.weight", "transformer.h.1.ln_1.bias",
      "transformer.h.1.attn.c_attn.weight", "transformer.h.1.attn.c_attn.bias",
      "transformer.h.1.attn.c_proj.weight", "transformer.h.1.attn.c_proj.bias",
      "transformer.h.1.ln_2.weight", "transformer.h.1.ln_2.bias",
      "transformer.h.1.mlp.c_fc.weight", "transformer.h.1.mlp.c_fc.bias",
      "transformer.h.1.mlp.c_proj.weight", "transformer.h.1.mlp.c_proj.bias",
      "transformer.ln_f.weight", "transformer.ln_f.bias");

  /** What TRL's AutoModelForCausalLMWithValueHead adds. */
  public static final List<String> VALUE_HEAD = List.of("v_head.summary.weight", "v_head.summary.bias");

  /** A two-layer GPT-2 policy with TRL's value head, in the order it is saved. */
  public static final List<String> GPT2_TWO_LAYERS_WITH_VALUE_HEAD =
      Stream.concat(GPT2_TWO_LAYERS.stream(), VALUE_HEAD.stream()).toList();

  private HfTensorNames() {}
}
