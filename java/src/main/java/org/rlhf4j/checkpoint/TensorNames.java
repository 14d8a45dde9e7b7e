package org.rlhf4j.checkpoint;

import java.util.Set;
import java.util.regex.Pattern;
import org.rlhf4j.engine.ModelConfig;

/**
 * Maps tensor names found in Hugging Face files to rlhf4j's names, which are those of
 * GPT2LMHeadModel ({@code transformer.h.0.attn.c_attn.weight}, ...) and LlamaForCausalLM
 * ({@code model.layers.0.self_attn.q_proj.weight}, ...), plus TRL's value head
 * ({@code v_head.summary.*}) and the sequence classifier's reward head ({@code score.weight}).
 */
final class TensorNames {
  static final Set<String> HEADS = Set.of("v_head.summary.weight", "v_head.summary.bias", "score.weight");

  /** GPT2Model (e.g. the original gpt2 on the hub) saves the trunk without this prefix. */
  private static final String GPT2_PREFIX = "transformer.";
  private static final Pattern GPT2_TRUNK = Pattern.compile("(wte|wpe|ln_f|h)\\..*");
  /** The causal mask buffers of older GPT-2 files: not parameters. */
  private static final Pattern GPT2_BUFFER = Pattern.compile("transformer\\.h\\.\\d+\\.attn\\.(bias|masked_bias)");
  /** Rotary frequencies that older Llama files saved: recomputed, not parameters. */
  private static final Pattern LLAMA_BUFFER = Pattern.compile("model\\.layers\\.\\d+\\.self_attn\\.rotary_emb\\.inv_freq");
  private static final String LM_HEAD = "lm_head.weight";

  private TensorNames() {}

  static boolean isHead(String name) {
    return HEADS.contains(name);
  }

  /**
   * rlhf4j's name for a tensor of a file, or null when it is not a parameter to load: a
   * buffer, or an LM head that the model ties to its embedding.
   */
  static String canonical(ModelConfig config, String fileName) {
    return switch (config.arch()) {
      case GPT2 -> {
        String name = GPT2_TRUNK.matcher(fileName).matches() ? GPT2_PREFIX + fileName : fileName;
        yield GPT2_BUFFER.matcher(name).matches() || name.equals(LM_HEAD) ? null : name;
      }
      case LLAMA -> LLAMA_BUFFER.matcher(fileName).matches()
          || (config.tieWordEmbeddings() && fileName.equals(LM_HEAD)) ? null : fileName;
    };
  }
}
