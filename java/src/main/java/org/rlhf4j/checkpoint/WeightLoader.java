package org.rlhf4j.checkpoint;

import static org.rlhf4j.checkpoint.Messages.quote;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.NativeException;
import org.rlhf4j.engine.Optimizer;
import org.rlhf4j.engine.TensorInfo;

/**
 * Copies tensors from mapped safetensors files into a model or an optimizer. Every name,
 * shape and dtype is checked before the first tensor is written; a tensor the native side
 * rejects (NaN or Inf) stops the load midway, so on any error the target's state is
 * unspecified and it should be discarded.
 *
 * <p>Thread-safety: stateless; the model or optimizer must not be in use elsewhere.
 */
public final class WeightLoader {
  /** Parameter dtypes the native side converts from. */
  private static final Set<DType> FLOATING = Set.of(DType.F32, DType.F16, DType.BF16, DType.F64);
  private static final int LISTED = 5;

  @FunctionalInterface
  private interface TensorWrite {
    void write(String name, DType dtype, MemorySegment src);
  }

  private record Copy(TensorInfo target, WeightFiles.Located source) {}

  private WeightLoader() {}

  /** Loads the model's weights from files, mapping Hugging Face names to the model's. */
  public static LoadReport loadModel(WeightFiles files, Model model, LoadOptions options) {
    Map<String, TensorInfo> wanted = new LinkedHashMap<>();
    // Adapters load from PEFT's own file (PeftAdapter).
    for (TensorInfo t : model.tensors()) {
      if (!PeftAdapter.isAdapter(t.name())) wanted.put(t.name(), t);
    }
    Map<String, WeightFiles.Located> found = new LinkedHashMap<>();
    List<String> ignored = new ArrayList<>();
    List<String> dropped = new ArrayList<>();
    for (String fileName : files.names()) {
      WeightFiles.Located source = files.get(fileName);
      String name = TensorNames.canonical(model.config(), fileName);
      if (name == null) {
        ignored.add(fileName);
      } else if (!wanted.containsKey(name)) {
        if (!TensorNames.isHead(name)) throw new CheckpointException(source.where() + " is not a tensor of the model");
        if (!options.dropExtraHeads()) {
          throw new CheckpointException(source.where() + " is a head the model does not have"
              + " (load with dropExtraHeads to skip it)");
        }
        dropped.add(fileName);
      } else {
        WeightFiles.Located previous = found.put(name, source);
        if (previous != null) {
          throw new CheckpointException(source.where() + " and " + previous.where() + " both give the model's "
              + quote(name));
        }
      }
    }
    List<String> fresh = new ArrayList<>();
    List<String> missing = new ArrayList<>();
    List<Copy> copies = new ArrayList<>();
    for (TensorInfo t : wanted.values()) {
      WeightFiles.Located source = found.get(t.name());
      if (source != null) copies.add(new Copy(t, source));
      else if (TensorNames.isHead(t.name()) && options.initMissingHeads()) fresh.add(t.name());
      else missing.add(t.name());
    }
    if (!missing.isEmpty()) {
      throw new CheckpointException(files.dir() + ": missing " + missing.size() + " tensor(s) of the model: "
          + listed(missing) + (missing.stream().allMatch(TensorNames::isHead) ? " (load with initMissingHeads to keep"
          + " them freshly initialised)" : ""));
    }
    copy(copies, model::writeTensor);
    return new LoadReport(copies.stream().map(c -> c.target().name()).toList(), fresh, dropped, ignored);
  }

  /**
   * Loads the optimizer's state from the file's tensors named prefix + the optimizer's names;
   * the file's other tensors with that prefix are an error, those without it are skipped
   * (another optimizer's state).
   */
  public static void loadOptimizer(SafetensorsFile file, Optimizer optimizer, String prefix) {
    List<Copy> copies = new ArrayList<>();
    List<String> missing = new ArrayList<>();
    Set<String> expected = new HashSet<>();
    for (TensorInfo t : optimizer.tensors()) {
      String name = prefix + t.name();
      expected.add(name);
      TensorEntry entry = file.find(name).orElse(null);
      if (entry == null) missing.add(name);
      else copies.add(new Copy(t, new WeightFiles.Located(file, entry)));
    }
    if (!missing.isEmpty()) {
      throw new CheckpointException(file.path() + ": missing " + missing.size() + " optimizer tensor(s): "
          + listed(missing));
    }
    for (TensorEntry e : file.tensors()) {
      if (e.name().startsWith(prefix) && !expected.contains(e.name())) {
        throw new CheckpointException(file.path() + ": tensor " + quote(e.name()) + " is not part of the optimizer's"
            + " state" + (prefix.isEmpty() ? "" : " under prefix " + quote(prefix)));
      }
    }
    copy(copies, optimizer::writeTensor);
  }

  private static void copy(List<Copy> copies, TensorWrite write) {
    for (Copy c : copies) {
      TensorInfo source = c.source().entry().info();
      if (!Arrays.equals(source.shape(), c.target().shape())) {
        throw new CheckpointException(c.source().where() + " has shape " + Arrays.toString(source.shape())
            + " but " + quote(c.target().name()) + " needs " + Arrays.toString(c.target().shape()));
      }
      if (!FLOATING.contains(source.dtype())) {
        throw new CheckpointException(c.source().where() + " has dtype " + source.dtype()
            + "; weights load from F32, F16, BF16 or F64");
      }
    }
    for (Copy c : copies) {
      try {
        write.write(c.target().name(), c.source().entry().info().dtype(), c.source().data());
      } catch (NativeException e) {
        throw new CheckpointException(c.source().where() + ": " + e.getMessage(), e);
      }
    }
  }

  private static String listed(List<String> names) {
    List<String> shown = names.subList(0, Math.min(LISTED, names.size()));
    String more = names.size() > LISTED ? ", ... (" + (names.size() - LISTED) + " more)" : "";
    return String.join(", ", shown.stream().map(Messages::quote).toList()) + more;
  }
}
