package org.rlhf4j.checkpoint;

import static org.rlhf4j.checkpoint.Messages.quote;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.rlhf4j.engine.LoraOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ModelConfig.Arch;
import org.rlhf4j.engine.TensorInfo;

/**
 * LoRA adapters in PEFT's on-disk format: adapter_config.json and adapter_model.safetensors
 * with tensors {@code base_model.model.<module path>.lora_A.weight} [r, in] and {@code
 * .lora_B.weight} [out, r] (the model's own names for its adapters).
 */
public final class PeftAdapter {
  public static final String CONFIG = "adapter_config.json";
  public static final String WEIGHTS = "adapter_model.safetensors";

  private PeftAdapter() {}

  /** Whether name is an adapter tensor (PEFT's naming). */
  public static boolean isAdapter(String name) {
    return name.startsWith("base_model.model.") && (name.endsWith(".lora_A.weight") || name.endsWith(".lora_B.weight"));
  }

  public static boolean present(Path dir) {
    return Files.isRegularFile(dir.resolve(CONFIG));
  }

  /** adapter_config.json for adapters with these options on a base of arch at basePath. */
  public static ObjectNode config(LoraOptions lora, Arch arch, String basePath) {
    ObjectNode c = Json.MAPPER.createObjectNode();
    c.put("peft_type", "LORA");
    c.put("task_type", "CAUSAL_LM");
    c.put("base_model_name_or_path", basePath);
    c.put("r", lora.r());
    c.put("lora_alpha", lora.alpha());
    c.put("lora_dropout", lora.dropout());
    ArrayNode targets = c.putArray("target_modules");
    lora.targetModules().forEach(targets::add);
    c.put("bias", "none");
    // GPT-2's Conv1D stores weights [in, out]: PEFT marks such layers fan_in_fan_out.
    c.put("fan_in_fan_out", arch == Arch.GPT2);
    c.put("use_rslora", lora.useRslora());
    c.put("inference_mode", true);
    return c;
  }

  /** Writes adapter_config.json and adapter_model.safetensors of model's adapters into dir. */
  public static void write(Path dir, Model model, String basePath) throws IOException {
    LoraOptions lora = model.lora().orElseThrow(() -> new IllegalArgumentException("the model has no LoRA adapters"));
    Files.createDirectories(dir);
    Files.write(dir.resolve(CONFIG), Json.bytes(config(lora, model.config().arch(), basePath)));
    List<TensorInfo> adapters = model.tensors().stream().filter(t -> isAdapter(t.name())).toList();
    SafetensorsWriter.write(dir.resolve(WEIGHTS), adapters, Map.of("format", "pt"),
        (t, dst) -> model.readTensor(t.name(), t.dtype(), dst));
  }

  /**
   * The options in dir's adapter_config.json for a base of arch (r, lora_alpha, lora_dropout,
   * target_modules, use_rslora); rejects what this library cannot run (another peft_type, bias).
   */
  public static LoraOptions read(Path dir, Arch arch, long seed) {
    Path file = dir.resolve(CONFIG);
    JsonNode c = Json.read(file);
    String type = c.path("peft_type").asText("");
    if (!type.equals("LORA")) throw new CheckpointException(file + ": peft_type is " + quote(type) + ", not \"LORA\"");
    String bias = c.path("bias").asText("none");
    if (!bias.equals("none")) throw new CheckpointException(file + ": bias " + quote(bias) + " is not supported (only \"none\")");
    if (!c.path("r").isInt()) throw new CheckpointException(file + ": r must be a whole number");
    List<String> targets = new ArrayList<>();
    JsonNode t = c.path("target_modules");
    if (t.isTextual()) {
      targets.add(t.asText());
    } else {
      for (JsonNode n : t) targets.add(n.asText());
    }
    try {
      return new LoraOptions(c.get("r").asInt(), c.path("lora_alpha").asDouble(8), c.path("lora_dropout").asDouble(0),
          targets, c.path("use_rslora").asBoolean(false), seed);
    } catch (IllegalArgumentException e) {
      throw new CheckpointException(file + ": " + e.getMessage(), e);
    }
  }

  /** Loads dir's adapter_model.safetensors into model's adapters: every one must be there, nothing else. */
  public static void load(Path dir, Model model) {
    Path file = dir.resolve(WEIGHTS);
    if (!Files.isRegularFile(file)) throw new CheckpointException(dir + ": no " + WEIGHTS);
    try (SafetensorsFile weights = SafetensorsFile.open(file)) {
      Set<String> wanted = new HashSet<>();
      for (TensorInfo t : model.tensors()) {
        if (!isAdapter(t.name())) continue;
        wanted.add(t.name());
        TensorEntry e = weights.find(t.name()).orElseThrow(() ->
            new CheckpointException(file + ": missing adapter tensor " + quote(t.name())));
        if (!java.util.Arrays.equals(e.info().shape(), t.shape())) {
          throw new CheckpointException(file + ": " + quote(t.name()) + " has shape "
              + java.util.Arrays.toString(e.info().shape()) + " but the adapter needs " + java.util.Arrays.toString(t.shape()));
        }
        model.writeTensor(t.name(), e.info().dtype(), weights.data(e));
      }
      for (TensorEntry e : weights.tensors()) {
        if (!wanted.contains(e.name())) {
          throw new CheckpointException(file + ": " + quote(e.name()) + " is no adapter of the model (targets "
              + model.lora().map(LoraOptions::targetModules).orElse(List.of()) + ")");
        }
      }
    }
  }
}
