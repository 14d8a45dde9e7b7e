package org.rlhf4j.train;

import java.util.Optional;
import org.rlhf4j.engine.LoraOptions;
import org.rlhf4j.engine.Model;

/** How a run puts its LoRA adapters (model.lora) on the model it starts from. */
public final class Adapters {
  private Adapters() {}

  /**
   * Adds fresh adapters when lora is given. A start that has adapters of its own (a LoRA SFT
   * result) has them merged first, so they become part of the frozen base, as one would with
   * PEFT's merge_and_unload before a second LoRA stage. Without lora the model is left as it is.
   */
  public static void attach(Model model, Optional<LoraOptions> lora) {
    if (lora.isEmpty()) return;
    if (model.lora().isPresent()) model.mergeLora();
    model.addLora(lora.get());
  }
}
