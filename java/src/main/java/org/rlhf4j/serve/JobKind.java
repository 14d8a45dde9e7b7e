package org.rlhf4j.serve;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.rlhf4j.config.CommandConfig;
import org.rlhf4j.config.ConfigException;
import org.rlhf4j.config.ConfigLoader;
import org.rlhf4j.config.DpoRunConfig;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.config.RmRunConfig;
import org.rlhf4j.config.RunSection;
import org.rlhf4j.config.SftRunConfig;

/** The commands a job can run, each with the CLI's configuration loader (same keys, same checks). */
public enum JobKind {
  SFT("sft", SftRunConfig.loader()),
  TRAIN_RM("train-rm", RmRunConfig.loader()),
  DPO("dpo", DpoRunConfig.loader()),
  PPO("ppo", PpoRunConfig.loader());

  /** What messages call a submitted config, where the CLI names its file. */
  static final String ORIGIN = "config";

  private final String command;
  private final ConfigLoader<?> loader;

  JobKind(String command, ConfigLoader<?> loader) {
    this.command = command;
    this.loader = loader;
  }

  public String command() {
    return command;
  }

  /** The kind named by command (sft, train-rm, dpo, ppo). */
  public static JobKind of(String command) {
    for (JobKind k : values()) if (k.command.equals(command)) return k;
    throw new ConfigException("command must be one of sft, train-rm, dpo, ppo, got '" + command + "'");
  }

  /**
   * A loaded and validated config, its run section, its paths by key and its YAML.
   *
   * @param config the command's configuration record, the very object the job runs with
   */
  record Loaded(JobKind kind, Record config, RunSection run, Map<String, Path> paths, String yaml) {}

  /**
   * Binds tree as the CLI binds a file. Values are taken from the tree's nodes as they are: no
   * user string is ever written into YAML text and parsed again (YAML would fold a newline in a
   * path into a space, and the job would use another path than the one checked).
   */
  Loaded load(JsonNode tree) {
    return load(loader, tree);
  }

  private <C extends Record & CommandConfig> Loaded load(ConfigLoader<C> l, JsonNode tree) {
    C c = l.load(tree, ORIGIN, List.of());
    RunSection run = switch (c) {
      case PpoRunConfig p -> p.run();
      case SftRunConfig s -> s.run();
      case RmRunConfig r -> r.run();
      case DpoRunConfig d -> d.run();
      default -> throw new IllegalStateException("no run section in " + c.getClass());
    };
    return new Loaded(this, c, run, l.paths(c), l.toYaml(c));
  }
}
