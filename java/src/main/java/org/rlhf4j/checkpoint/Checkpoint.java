package org.rlhf4j.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.UnaryOperator;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.engine.NativeException;
import org.rlhf4j.engine.Optimizer;

/**
 * A model directory to read: one written by {@link CheckpointWriter}, or a plain Hugging Face
 * directory ({@code config.json} plus {@code model.safetensors} or a sharded index), e.g. the
 * SFT model that PPO starts from. Opening reads only config.json; weights are mapped when
 * loaded.
 *
 * <p>Immutable and thread-safe; the models and optimizers loaded into are not.
 */
public final class Checkpoint {
  public static final String CONFIG = "config.json";
  public static final String OPTIMIZER = "optimizer.safetensors";
  public static final String TRAINER_STATE = "trainer_state.json";
  /** Written last: a managed checkpoint without it is incomplete. */
  public static final String COMPLETE = "COMPLETE";

  /** A model created from a checkpoint, and what loading its weights did. */
  public record Loaded(Model model, LoadReport report) {}

  private final Path dir;
  private final HfConfig config;

  private Checkpoint(Path dir, HfConfig config) {
    this.dir = dir;
    this.config = config;
  }

  /** Opens dir and reads its config.json. */
  public static Checkpoint open(Path dir) {
    if (!Files.isDirectory(dir)) throw new CheckpointException(dir + ": not a directory");
    Path config = dir.resolve(CONFIG);
    if (!Files.isRegularFile(config)) throw new CheckpointException(dir + ": no " + CONFIG);
    return new Checkpoint(dir, HfConfig.read(config));
  }

  /** Whether dir holds the completion marker a {@link CheckpointWriter} writes last. */
  public static boolean isComplete(Path dir) {
    return Files.isRegularFile(dir.resolve(COMPLETE));
  }

  public Path dir() {
    return dir;
  }

  public HfConfig config() {
    return config;
  }

  /** The model stored in subdir (e.g. {@code critic}). */
  public Checkpoint subModel(String subdir) {
    return open(dir.resolve(subdir));
  }

  /** trainer_state.json, when present. */
  public Optional<JsonNode> trainerState() {
    Path file = dir.resolve(TRAINER_STATE);
    return Files.isRegularFile(file) ? Optional.of(Json.read(file)) : Optional.empty();
  }

  public boolean hasOptimizerState() {
    return Files.isRegularFile(dir.resolve(OPTIMIZER));
  }

  /**
   * Overwrites model's weights with this directory's (names mapped from HF conventions); a
   * model with LoRA adapters also loads them from adapter_model.safetensors.
   */
  public LoadReport loadWeights(Model model, LoadOptions options) {
    LoadReport report;
    try (WeightFiles files = WeightFiles.open(dir)) {
      report = WeightLoader.loadModel(files, model, options);
    }
    if (model.lora().isPresent()) {
      if (!PeftAdapter.present(dir)) throw new CheckpointException(dir + ": the model has LoRA adapters but " + dir
          + " has no " + PeftAdapter.CONFIG);
      PeftAdapter.load(dir, model);
    }
    return report;
  }

  /**
   * Creates a model on device from config.json, changed by adjust (e.g. add a value head, set
   * the seed of fresh heads, the dtype), and loads the weights into it.
   */
  public Loaded loadModel(String device, UnaryOperator<ModelConfig> adjust, LoadOptions options) {
    Model model;
    try {
      model = Model.create(adjust.apply(config.model()), device);
    } catch (NativeException e) {
      throw new CheckpointException(dir.resolve(CONFIG) + ": cannot create the model: " + e.getMessage(), e);
    }
    try {
      // A LoRA checkpoint: the base with PEFT's adapter beside it.
      if (PeftAdapter.present(dir)) model.addLora(PeftAdapter.read(dir, model.config().arch(), 0));
      return new Loaded(model, loadWeights(model, options));
    } catch (RuntimeException e) {
      model.close();
      throw e;
    }
  }

  /** Loads optimizer's state from optimizer.safetensors, under prefix ("" for none). */
  public void loadOptimizer(Optimizer optimizer, String prefix) {
    Path file = dir.resolve(OPTIMIZER);
    if (!Files.isRegularFile(file)) throw new CheckpointException(dir + ": no " + OPTIMIZER);
    try (SafetensorsFile state = SafetensorsFile.open(file)) {
      WeightLoader.loadOptimizer(state, optimizer, prefix);
    }
  }
}
