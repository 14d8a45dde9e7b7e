package org.rlhf4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.rlhf4j.checkpoint.RunCheckpoints;
import org.rlhf4j.config.ConfigLoader;
import org.rlhf4j.metrics.MetricsLog;
import picocli.CommandLine.Model.CommandSpec;

/** What the training commands (sft, train-rm, ppo) share about their configuration and run.out. */
final class RunDirectory {
  /** The effective configuration, written into the run directory. */
  static final String CONFIG_FILE = "config.yaml";
  private static final String KEYS_SECTION = "configKeys";

  private RunDirectory() {}

  /** --out DIR as a --set override; single-quoted YAML keeps any path ("123", "null") as written. */
  static String outOverride(Path out) {
    return "run.out='" + out.toString().replace("'", "''") + "'";
  }

  /**
   * Refuses a run.out that is a file or already holds a run (metrics or checkpoints), so nothing a
   * user has is overwritten; advice says what to do instead.
   */
  static void refuseExisting(Path runDir, String advice) {
    if (Files.exists(runDir) && !Files.isDirectory(runDir)) {
      throw new UsageException("run.out " + runDir + " is a file, not a directory; choose another --out");
    }
    for (String name : List.of(MetricsLog.FILE_NAME, RunCheckpoints.DIR)) {
      if (Files.exists(runDir.resolve(name))) {
        throw new UsageException("run.out " + runDir + " already holds a run (" + name + "); " + advice);
      }
    }
  }

  /**
   * Ends the command's --help with the configuration keys (path, type, default, description), one
   * unwrapped line each: a section of its own, which picocli does not wrap at 80 columns.
   */
  static void addConfigKeys(CommandSpec spec, ConfigLoader<?> loader) {
    var usage = spec.usageMessage();
    List<String> sections = new ArrayList<>(usage.sectionKeys());
    sections.add(KEYS_SECTION);
    usage.sectionKeys(sections);
    usage.sectionMap().put(KEYS_SECTION, help -> System.lineSeparator()
        + "Configuration keys (--config FILE, --set KEY=VALUE):" + System.lineSeparator() + loader.help());
  }
}
