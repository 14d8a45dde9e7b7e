package org.rlhf4j.checkpoint;

import static org.rlhf4j.checkpoint.Messages.quote;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.ModelConfig;

/**
 * A Hugging Face {@code config.json}: the model's shape plus what HF keeps beside it (the
 * model_type of the Llama family member, special token ids). GPT-2 ({@code gpt2}) and the
 * Llama family ({@code llama}, {@code qwen2}, {@code qwen3}, {@code mistral}) are supported. rlhf4j's own
 * flags (value head, reward head) go in an {@code "rlhf4j"} object that HF ignores.
 *
 * <p>The seed of the model config is not stored (it only shapes a random init); configs read
 * back have seed 0. Immutable and thread-safe.
 *
 * @param modelType {@code gpt2} for GPT-2; {@code llama}, {@code qwen2}, {@code qwen3} or
 *     {@code mistral} for the Llama architecture (qwen2 exactly when the q/k/v projections carry
 *     biases, qwen3 exactly when q and k are normalised per head)
 * @param eosTokenIds one or more end-of-sequence ids (Llama 3 lists several); may be empty
 */
public record HfConfig(ModelConfig model, String modelType, Integer bosTokenId, List<Integer> eosTokenIds,
    Integer padTokenId) {
  static final String EXTRAS_KEY = "rlhf4j";

  public HfConfig {
    if (model == null) throw new IllegalArgumentException("HF config: model is required");
    if (modelType == null) throw new IllegalArgumentException("HF config: modelType is required");
    eosTokenIds = eosTokenIds == null ? List.of() : List.copyOf(eosTokenIds);
    boolean ok = switch (model.arch()) {
      case GPT2 -> modelType.equals("gpt2");
      case LLAMA -> switch (modelType) {
        case "qwen2" -> model.attentionBias() && !model.qkNorm();
        case "qwen3" -> !model.attentionBias() && model.qkNorm();
        case "llama", "mistral" -> !model.attentionBias() && !model.qkNorm();
        default -> false;
      };
    };
    if (!ok) {
      throw new IllegalArgumentException("HF config: model_type " + quote(modelType) + " does not describe a "
          + model.arch() + " model" + (model.attentionBias() ? " with" : " without") + " q/k/v biases and"
          + (model.qkNorm() ? " with" : " without") + " q/k norms (gpt2 for GPT-2; qwen2 for Llama with biases;"
          + " qwen3 with q/k norms; llama or mistral with neither)");
    }
  }

  /** The config of model with the usual model_type for its architecture and no token ids. */
  public static HfConfig of(ModelConfig model) {
    String type = switch (model.arch()) {
      case GPT2 -> "gpt2";
      case LLAMA -> model.qkNorm() ? "qwen3" : model.attentionBias() ? "qwen2" : "llama";
    };
    return new HfConfig(model, type, null, List.of(), null);
  }

  public HfConfig withModel(ModelConfig newModel) {
    return new HfConfig(newModel, modelType, bosTokenId, eosTokenIds, padTokenId);
  }

  public HfConfig withTokenIds(Integer bos, List<Integer> eos, Integer pad) {
    return new HfConfig(model, modelType, bos, eos, pad);
  }

  /** Reads a config.json; unsupported or malformed configs name the file and the key. */
  public static HfConfig read(Path file) {
    return fromJson(Json.read(file), file.toString());
  }

  /** Maps parsed config.json content; source names it in errors. */
  public static HfConfig fromJson(JsonNode json, String source) {
    JsonFields f = JsonFields.of(json, source);
    String type = f.requireString("model_type");
    DType dtype = dtype(f);
    List<String> architectures = f.strings("architectures");
    boolean classifier = architectures.stream().anyMatch(a -> a.endsWith("ForSequenceClassification"));
    if (classifier) {
      long labels = f.has("id2label") ? f.object("id2label").size() : f.optLong("num_labels", 2);
      if (labels != 1) {
        throw f.unsupported("num_labels", "a sequence classifier with " + labels
            + " labels (rlhf4j's reward head has exactly one)");
      }
    }
    JsonFields extras = f.object(EXTRAS_KEY);
    boolean valueHead = extras != null && extras.optBoolean("value_head", false);
    boolean rewardHead = extras != null ? extras.optBoolean("reward_head", classifier) : classifier;
    ModelConfig model = switch (type) {
      case "gpt2" -> Gpt2Json.read(f, dtype);
      case "llama", "qwen2", "qwen3", "mistral" -> LlamaJson.read(f, type, dtype);
      default -> throw f.unsupported("model_type", quote(type) + " (supported: gpt2, llama, qwen2, qwen3, mistral)");
    };
    model = model.withValueHead(valueHead).withRewardHead(rewardHead);
    return new HfConfig(model, type, f.optInt("bos_token_id"), f.intOrInts("eos_token_id"), f.optInt("pad_token_id"));
  }

  /** The config.json content: HF's keys, then the rlhf4j extras. */
  public ObjectNode toJson() {
    ObjectNode out = JsonNodeFactory.instance.objectNode();
    String head = model.rewardHead() ? "ForSequenceClassification" : "LMHeadModel";
    if (model.arch() == ModelConfig.Arch.LLAMA && !model.rewardHead()) head = "ForCausalLM";
    out.putArray("architectures").add(className() + head);
    out.put("model_type", modelType);
    if (model.arch() == ModelConfig.Arch.GPT2) Gpt2Json.write(model, out);
    else LlamaJson.write(model, modelType, out);
    if (model.rewardHead()) {
      out.putObject("id2label").put("0", "LABEL_0");
      out.putObject("label2id").put("LABEL_0", 0);
    }
    if (bosTokenId != null) out.put("bos_token_id", bosTokenId);
    if (eosTokenIds.size() == 1) {
      out.put("eos_token_id", eosTokenIds.getFirst());
    } else if (!eosTokenIds.isEmpty()) {
      ArrayNode eos = out.putArray("eos_token_id");
      eosTokenIds.forEach(eos::add);
    }
    if (padTokenId != null) out.put("pad_token_id", padTokenId);
    out.put("torch_dtype", torchDtype(model.dtype()));
    ObjectNode extras = out.putObject(EXTRAS_KEY);
    extras.put("value_head", model.valueHead());
    extras.put("reward_head", model.rewardHead());
    return out;
  }

  private String className() {
    return switch (modelType) {
      case "gpt2" -> "GPT2";
      case "qwen2" -> "Qwen2";
      case "qwen3" -> "Qwen3";
      case "mistral" -> "Mistral";
      default -> "Llama";
    };
  }

  private static DType dtype(JsonFields f) {
    String key = f.has("dtype") ? "dtype" : "torch_dtype";
    String name = f.optString(key, "float32");
    return switch (name) {
      case "float32" -> DType.F32;
      case "float16" -> DType.F16;
      case "bfloat16" -> DType.BF16;
      case "float64" -> DType.F64;
      default -> throw f.unsupported(key, quote(name) + " (supported: float32, float16, bfloat16, float64)");
    };
  }

  private static String torchDtype(DType dtype) {
    return switch (dtype) {
      case F32 -> "float32";
      case F16 -> "float16";
      case BF16 -> "bfloat16";
      case F64 -> "float64";
      default -> throw new IllegalArgumentException("HF config: " + dtype + " is not a parameter dtype");
    };
  }
}
