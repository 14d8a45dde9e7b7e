package org.rlhf4j.checkpoint;

import static org.rlhf4j.checkpoint.Messages.quote;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.Optimizer;
import org.rlhf4j.engine.TensorInfo;

/**
 * Collects what a checkpoint holds, then writes it as one directory, atomically: {@code
 * config.json} and {@code model.safetensors} of the main model (Hugging Face layout), the
 * same pair in a subdirectory per extra model (e.g. {@code critic/}), {@code
 * optimizer.safetensors} with every optimizer's state under its prefix, the caller's files
 * (e.g. {@code tokenizer.json}), {@code trainer_state.json}, and last the {@code COMPLETE}
 * marker. Everything goes into a {@code .tmp-<name>-<random>} directory beside the target,
 * is fsynced, then renamed into place.
 *
 * <p>Not thread-safe; the models and optimizers must not change while {@link #writeTo} runs.
 */
public final class CheckpointWriter {
  /** Writes a caller's file into the checkpoint (the path is inside the temp directory). */
  @FunctionalInterface
  public interface FileContent {
    void writeTo(Path file) throws IOException;
  }

  private record ModelPart(String subdir, Model model, HfConfig config) {}

  private static final Set<String> RESERVED = Set.of(Checkpoint.CONFIG, WeightFiles.SINGLE, WeightFiles.INDEX,
      Checkpoint.OPTIMIZER, Checkpoint.TRAINER_STATE, Checkpoint.COMPLETE);

  private final List<ModelPart> models = new ArrayList<>();
  private final Map<String, Optimizer> optimizers = new LinkedHashMap<>();
  private final Map<Path, FileContent> files = new LinkedHashMap<>();
  private JsonNode trainerState;

  /** The main model, with the usual config.json for its config. */
  public CheckpointWriter model(Model model) {
    return model(model, HfConfig.of(model.config()));
  }

  /** The main model with its config.json (which must describe the model; the seed may differ). */
  public CheckpointWriter model(Model model, HfConfig config) {
    return addModel("", model, config);
  }

  /** Another model (e.g. a separate critic) in subdir, a plain directory name. */
  public CheckpointWriter subModel(String subdir, Model model, HfConfig config) {
    if (!isPlainName(subdir) || RESERVED.contains(subdir)) {
      throw new IllegalArgumentException("checkpoint: sub-model directory " + quote(subdir) + " must be a plain name");
    }
    return addModel(subdir, model, config);
  }

  private CheckpointWriter addModel(String subdir, Model model, HfConfig config) {
    if (models.stream().anyMatch(m -> m.subdir().equals(subdir))) {
      throw new IllegalArgumentException("checkpoint: " + (subdir.isEmpty() ? "the main model" : "sub-model " + quote(subdir))
          + " was given twice");
    }
    if (!config.model().withSeed(0).equals(model.config().withSeed(0))) {
      throw new IllegalArgumentException("checkpoint: the config " + config.model() + " does not describe the model "
          + model.config());
    }
    models.add(new ModelPart(subdir, model, config));
    return this;
  }

  /**
   * An optimizer whose tensors are stored under prefix (e.g. {@code policy.}, {@code
   * critic.}; "" when there is only one).
   */
  public CheckpointWriter optimizer(String prefix, Optimizer optimizer) {
    if (optimizers.containsKey(prefix)) throw new IllegalArgumentException("checkpoint: optimizer prefix " + quote(prefix) + " given twice");
    optimizers.put(prefix, optimizer);
    return this;
  }

  /** A file at relativePath (e.g. tokenizer.json) holding content. */
  public CheckpointWriter file(String relativePath, byte[] content) {
    byte[] copy = content.clone();
    return file(relativePath, path -> Files.write(path, copy));
  }

  /** A file at relativePath written by content when the checkpoint is written. */
  public CheckpointWriter file(String relativePath, FileContent content) {
    Path rel = Path.of(relativePath);
    boolean plain = !relativePath.isEmpty() && !rel.isAbsolute() && rel.normalize().equals(rel)
        && !rel.startsWith("..") && !RESERVED.contains(rel.toString());
    if (!plain) {
      throw new IllegalArgumentException("checkpoint: file path " + quote(relativePath)
          + " must be relative, normalised, inside the checkpoint and not one of " + RESERVED);
    }
    if (files.putIfAbsent(rel, content) != null) {
      throw new IllegalArgumentException("checkpoint: file " + quote(relativePath) + " given twice");
    }
    return this;
  }

  /** The trainer's state, stored as trainer_state.json (opaque to this package). */
  public CheckpointWriter trainerState(JsonNode state) {
    this.trainerState = state.deepCopy();
    return this;
  }

  /**
   * Writes the checkpoint to target. An existing target is an error unless replace, when it
   * is swapped out only after the new one is complete. Returns target.
   */
  public Path writeTo(Path target, boolean replace) {
    if (models.stream().noneMatch(m -> m.subdir().isEmpty())) {
      throw new IllegalStateException("checkpoint: no main model given");
    }
    Path temp = null;
    try {
      temp = Durable.createTempDirFor(target);
      for (ModelPart m : models) {
        Path dir = m.subdir().isEmpty() ? temp : temp.resolve(m.subdir());
        writeModel(dir, m, (m.subdir().isEmpty() ? target : target.resolve(m.subdir())).toAbsolutePath());
      }
      if (!optimizers.isEmpty()) writeOptimizers(temp.resolve(Checkpoint.OPTIMIZER));
      for (Map.Entry<Path, FileContent> f : files.entrySet()) {
        Path file = temp.resolve(f.getKey());
        if (Files.exists(file)) {
          throw new IllegalArgumentException("checkpoint: file " + quote(f.getKey().toString())
              + " would overwrite a file of a model");
        }
        Files.createDirectories(file.getParent());
        f.getValue().writeTo(file);
      }
      if (trainerState != null) Files.write(temp.resolve(Checkpoint.TRAINER_STATE), Json.bytes(trainerState));
      // The marker goes in only once everything else is on disk, so it never vouches for lost data.
      Durable.syncTree(temp);
      Path marker = Files.write(temp.resolve(Checkpoint.COMPLETE), new byte[0]);
      Durable.sync(marker);
      Durable.sync(temp);
      Durable.publish(temp, target, replace);
      return target;
    } catch (IOException e) {
      CheckpointException failure =
          new CheckpointException("cannot write checkpoint " + target + ": " + Messages.oneLine(e.toString()), e);
      discard(temp, failure);
      throw failure;
    } catch (RuntimeException e) {
      discard(temp, e);
      throw e;
    }
  }

  /**
   * config.json and model.safetensors (the base and heads); a LoRA model's adapters go beside
   * them in PEFT's files, whose base_model_name_or_path is this directory (finalDir).
   */
  private static void writeModel(Path dir, ModelPart m, Path finalDir) throws IOException {
    Files.createDirectories(dir);
    Files.write(dir.resolve(Checkpoint.CONFIG), Json.bytes(m.config().toJson()));
    List<TensorInfo> base = m.model().tensors().stream().filter(t -> !PeftAdapter.isAdapter(t.name())).toList();
    // transformers refuses safetensors files whose metadata lacks format = pt.
    SafetensorsWriter.write(dir.resolve(WeightFiles.SINGLE), base, Map.of("format", "pt"),
        (t, dst) -> m.model().readTensor(t.name(), t.dtype(), dst));
    if (m.model().lora().isPresent()) PeftAdapter.write(dir, m.model(), finalDir.toString());
  }

  private void writeOptimizers(Path file) {
    List<TensorInfo> tensors = new ArrayList<>();
    Map<String, Optimizer> owner = new LinkedHashMap<>();
    Map<String, String> ownName = new LinkedHashMap<>();
    optimizers.forEach((prefix, optimizer) -> {
      for (TensorInfo t : optimizer.tensors()) {
        String name = prefix + t.name();
        tensors.add(new TensorInfo(name, t.dtype(), t.shape()));
        owner.put(name, optimizer);
        ownName.put(name, t.name());
      }
    });
    SafetensorsWriter.write(file, tensors, Map.of("format", "rlhf4j-optimizer"),
        (t, dst) -> owner.get(t.name()).readTensor(ownName.get(t.name()), t.dtype(), dst));
  }

  /** Removes the unfinished temp directory; a leftover is cleaned up by the next managed save. */
  private static void discard(Path temp, Exception failure) {
    if (temp == null) return;
    try {
      Durable.deleteTree(temp);
    } catch (IOException e) {
      failure.addSuppressed(e);
    }
  }

  private static boolean isPlainName(String name) {
    return !name.isEmpty() && !name.equals(".") && !name.equals("..") && name.indexOf('/') < 0 && name.indexOf('\\') < 0;
  }
}
