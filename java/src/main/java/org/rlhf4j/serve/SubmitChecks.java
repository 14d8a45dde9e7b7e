package org.rlhf4j.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.function.Predicate;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.CheckpointException;
import org.rlhf4j.checkpoint.ModelDirs;
import org.rlhf4j.config.ConfigException;
import org.rlhf4j.config.DpoRunConfig;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.config.RewardTerms;
import org.rlhf4j.config.RmRunConfig;
import org.rlhf4j.config.SftRunConfig;
import org.rlhf4j.ppo.RewardFunction;

/**
 * What a submitted config must pass before it becomes a job: everything the CLI would find
 * before writing (types, ranges, rules, inputs that exist and are files or directories as their
 * key wants, reward classes loaded and type-checked, a device the build has, sizes within the
 * model's context), plus the service's own limits: paths under the allowed roots on their real
 * form, no control characters in them, no service state (the token, job records) as an input,
 * and run.threads at most this machine's cores. Thread-safe.
 */
final class SubmitChecks {
  private static final YAMLMapper YAML = new YAMLMapper();

  private final Path runs;
  private final PathPolicy policy;
  private final Devices devices;
  private final Predicate<Path> pendingRun;
  private final Set<Path> protectedFiles = new CopyOnWriteArraySet<>();

  /** @param pendingRun whether a path is the run directory of a queued or running job (its model is still to come) */
  SubmitChecks(Path runs, PathPolicy policy, Devices devices, Predicate<Path> pendingRun) {
    this.runs = runs;
    this.policy = policy;
    this.devices = devices;
    this.pendingRun = pendingRun;
    protectedFiles.add(runs.resolve(ServeToken.FILE_NAME));
  }

  /** Keeps file from ever being a job's input (e.g. a token file outside the runs root). */
  void protect(Path file) {
    protectedFiles.add(PathPolicy.resolve(file));
  }

  /**
   * The config the job will run: tree bound once, its paths replaced by their checked real
   * forms (as tree nodes, never as YAML text) and bound again, then every submit-time check.
   *
   * @param defaultOut run.out when the config leaves it out
   */
  JobKind.Loaded check(JobKind kind, JsonNode config, Path defaultOut) {
    ObjectNode tree = tree(config);
    // A run that is not a mapping is left for the binder to report.
    if (!tree.has("run") || tree.get("run").isObject() && !tree.get("run").has("out")) {
      section(tree, "run").set("out", TextNode.valueOf(defaultOut.toString()));
    }
    JobKind.Loaded first = kind.load(tree);
    Map<String, Path> real = new LinkedHashMap<>();
    for (Map.Entry<String, Path> p : first.paths().entrySet()) real.put(p.getKey(), checkPath(p.getKey(), p.getValue()));
    notInAJob(real.get("run.out"));
    for (Map.Entry<String, Path> p : real.entrySet()) {
      String[] key = p.getKey().split("\\.");
      ObjectNode node = tree;
      for (int i = 0; i < key.length - 1; i++) node = section(node, key[i]);
      node.set(key[key.length - 1], TextNode.valueOf(p.getValue().toString()));
    }
    JobKind.Loaded loaded = kind.load(tree);
    if (!loaded.paths().equals(real)) {
      throw new IllegalStateException("the bound config's paths " + loaded.paths() + " differ from the checked " + real);
    }
    limits(loaded);
    return loaded;
  }

  /**
   * The config of a job that is resumed (run.resume on): its run directory's config.yaml, which
   * the service wrote, whose paths must still be their own checked real forms.
   */
  JobKind.Loaded reload(JobKind kind, Path configFile) {
    JsonNode read;
    try {
      read = YAML.readTree(configFile.toFile());
    } catch (java.io.IOException e) {
      throw new ConfigException(configFile + ": " + e.getMessage());
    }
    ObjectNode tree = tree(read);
    section(tree, "run").put("resume", true);
    JobKind.Loaded loaded = kind.load(tree);
    for (Map.Entry<String, Path> p : loaded.paths().entrySet()) {
      Path checked = checkPath(p.getKey(), p.getValue());
      if (!checked.equals(p.getValue())) {
        throw new ForbiddenPathException(p.getKey() + ": " + p.getValue() + " in " + configFile
            + " is not the path checked at submit (it now resolves to " + checked + ")");
      }
    }
    devices.require(loaded.run().device());
    return loaded;
  }

  private static ObjectNode tree(JsonNode config) {
    if (config == null || config.isNull() || config.isMissingNode()) return JsonNodeFactory.instance.objectNode();
    if (!(config instanceof ObjectNode o)) {
      throw new ConfigException(JobKind.ORIGIN + ": expected a mapping of sections (run:, model:, ...) at the top "
          + "level");
    }
    return o.deepCopy();
  }

  private static ObjectNode section(ObjectNode tree, String name) {
    return tree.get(name) instanceof ObjectNode o ? o : tree.putObject(name);
  }

  /** The real path of one path key, refused when it cannot be what the key wants. */
  private Path checkPath(String key, Path p) {
    String text = p.toString();
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (Character.isISOControl(c)) {
        throw new ConfigException(key + ": control character U+" + String.format("%04X", (int) c)
            + " in the path; paths may not hold control characters");
      }
    }
    Path real = policy.check(key, p);
    if (key.equals("run.out")) {
      if (real.equals(runs)) {
        throw new ConfigException("run.out: the runs root itself holds the service's state; name a directory "
            + "below it, or leave run.out out");
      }
      if (Files.exists(real) && !Files.isDirectory(real)) {
        throw new ConfigException("run.out: " + p + " is a file, not a directory");
      }
      return real;
    }
    if (protectedFiles.contains(real) || isJobRecord(real)) {
      throw new ForbiddenPathException(key + ": " + p + " is the service's own state (its token or a job's "
          + "record); it is never a job input");
    }
    if (!Files.exists(real)) throw new ConfigException(key + ": no such file or directory: " + p);
    boolean wantsFile = key.startsWith("data.");
    if (wantsFile && !Files.isRegularFile(real)) throw new ConfigException(key + ": " + p + " is not a file");
    if (!wantsFile && !Files.isDirectory(real)) throw new ConfigException(key + ": " + p + " is not a directory");
    return real;
  }

  /** A new run directory may not be another job's directory or lie in one. */
  private void notInAJob(Path out) {
    for (Path d = out; d != null && d.startsWith(runs) && !d.equals(runs); d = d.getParent()) {
      if (Files.exists(d.resolve(JobManager.JOB_FILE))) {
        throw new ConfigException("run.out: " + out + " is inside the directory of job " + runs.relativize(d)
            + "; leave run.out out to get a new directory under the runs root");
      }
    }
  }

  /** runs/ID/job.json, job.log or the job record's temp file. */
  private boolean isJobRecord(Path real) {
    Path parent = real.getParent();
    if (parent == null || !runs.equals(parent.getParent())) return false;
    String name = real.getFileName().toString();
    return List.of(JobManager.JOB_FILE, JobLog.FILE_NAME, "." + JobManager.JOB_FILE + ".tmp",
        JobManager.CANCEL_FILE).contains(name);
  }

  /** The bounds a config could otherwise inflate, and what the CLI would find loading the run. */
  private void limits(JobKind.Loaded loaded) {
    int threads = loaded.run().threads();
    int cores = Runtime.getRuntime().availableProcessors();
    if (threads > cores) {
      throw new ConfigException("run.threads: " + threads + " is more than this machine's " + cores
          + " cores; the service refuses it (0 = all cores)");
    }
    devices.require(loaded.run().device());
    switch (loaded.config()) {
      case PpoRunConfig p -> {
        long needed = (long) p.data().maxPromptTokens() + p.generation().maxNewTokens();
        String what = "data.max_prompt_tokens (" + p.data().maxPromptTokens() + ") + generation.max_new_tokens ("
            + p.generation().maxNewTokens() + ") = " + needed;
        fitsContext("model.path", p.model().path(), needed, what);
        if (p.reward().modelPath() != null) fitsContext("reward.model_path", p.reward().modelPath(), needed, what);
        if (p.reward().function() != null) rewardClass("reward.function", p.reward().function());
        if (p.reward().functions() != null) {
          for (RewardTerms.Term t : p.reward().functions().terms()) {
            if (t.className() != null) rewardClass("reward.functions", t.className());
          }
        }
      }
      case SftRunConfig s -> fitsContext("model.path", s.model().path(), s.sft().maxSeqLen(),
          "sft.max_seq_len (" + s.sft().maxSeqLen() + ")");
      case RmRunConfig r -> fitsContext("model.path", r.model().path(), r.rm().maxSeqLen(),
          "rm.max_seq_len (" + r.rm().maxSeqLen() + ")");
      case DpoRunConfig d -> {
        String what = "dpo.max_length (" + d.dpo().maxLength() + ")";
        fitsContext("model.path", d.model().path(), d.dpo().maxLength(), what);
        if (d.dpo().referencePath() != null) fitsContext("dpo.reference_path", d.dpo().referencePath(),
            d.dpo().maxLength(), what);
      }
      default -> throw new IllegalStateException("no checks for " + loaded.config().getClass());
    }
  }

  /**
   * A model that a queued or running job is still to write (a pipeline: sft, then ppo from its
   * run directory) is checked when the job loads it, as the trainers do.
   */
  private void fitsContext(String key, Path model, long needed, String what) {
    if (pendingRun.test(model)) return;
    long context;
    try {
      context = Checkpoint.open(ModelDirs.resolve(model)).config().model().nPositions();
    } catch (CheckpointException e) {
      throw new ConfigException(key + ": " + e.getMessage());
    }
    if (needed > context) {
      throw new ConfigException(what + " exceeds the context of " + key + " " + model + " (" + context + " positions)");
    }
  }

  /** Loads (without initialising) and type-checks a reward class, as the job would instantiate it. */
  private static void rewardClass(String key, String name) {
    Class<?> type;
    try {
      type = Class.forName(name, false, SubmitChecks.class.getClassLoader());
    } catch (ClassNotFoundException | LinkageError e) {
      throw new ConfigException(key + ": class " + name + " is not on the classpath");
    }
    if (!RewardFunction.class.isAssignableFrom(type)) {
      throw new ConfigException(key + ": " + name + " does not implement " + RewardFunction.class.getName());
    }
    if (Modifier.isAbstract(type.getModifiers())) throw new ConfigException(key + ": " + name + " is abstract");
    try {
      if (!Modifier.isPublic(type.getConstructor().getModifiers())) throw new NoSuchMethodException();
    } catch (NoSuchMethodException e) {
      throw new ConfigException(key + ": " + name + " needs a public no-argument constructor");
    }
  }
}
