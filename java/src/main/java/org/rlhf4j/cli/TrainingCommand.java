package org.rlhf4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.rlhf4j.config.CommandConfig;
import org.rlhf4j.config.ConfigLoader;
import org.rlhf4j.config.RunSection;
import org.rlhf4j.engine.Engine;
import org.rlhf4j.train.Distributed;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * A command that trains from a configuration (sft, train-rm): {@code --config FILE}, {@code --set
 * key=value} and {@code --out DIR}, every config key listed in --help. Before anything is
 * written the config is loaded and validated, the data read and the model loaded; a run
 * directory that already holds a run is refused unless --resume (run.resume); then the effective config goes to
 * run.out/config.yaml, the run trains, and a short summary is printed. In a data-parallel job
 * (torchrun's or Slurm's environment) the ranks first check that their configurations agree;
 * rank 0 alone writes and prints.
 *
 * @param <C> the command's configuration record
 */
abstract class TrainingCommand<C extends Record & CommandConfig> implements Callable<Integer> {
  private CommandSpec spec;

  @Option(names = "--config", paramLabel = "FILE", description = "Configuration file: YAML, or JSON if named *.json.")
  Path configFile;

  @Option(names = "--set", paramLabel = "KEY=VALUE",
      description = "Set one configuration key, e.g. --set optim.lr=1e-4 (repeatable; wins over --config).")
  List<String> overrides = new ArrayList<>();

  @Option(names = "--out", paramLabel = "DIR", description = "Run directory (same as --set run.out=DIR).")
  Path out;

  @Option(names = "--resume", description = "Continue the run in run.out from its newest checkpoint.")
  boolean resume;

  /** A prepared run: the data read and the model loaded, nothing written yet. */
  interface PreparedRun extends AutoCloseable {
    /** Trains and saves; returns the summary's lines. */
    List<String> run();

    @Override
    void close();
  }

  abstract ConfigLoader<C> loader();

  abstract RunSection runSection(C config);

  /** Reads the data and loads the model; must write nothing. */
  abstract PreparedRun prepare(C config) throws IOException;

  /** Adds the configuration keys (path, type, default, description) to --help. */
  @Spec
  void spec(CommandSpec commandSpec) {
    this.spec = commandSpec;
    RunDirectory.addConfigKeys(commandSpec, loader());
  }

  @Override
  public Integer call() throws IOException {
    List<String> sets = new ArrayList<>(overrides);
    if (resume) sets.add("run.resume=true");
    if (out != null) sets.add(RunDirectory.outOverride(out));
    C config = loader().load(configFile, sets);
    RunSection runSection = runSection(config);
    Path runDir = runSection.out();
    try (Distributed dist = Distributed.join(System.getenv(), runSection.distTimeout(), runSection.device())) {
      dist.requireSameConfig(loader().values(config));
      String device = dist.device(runSection.device());
      if (!device.equals(runSection.device())) {
        sets.add("run.device=" + device);
        config = loader().load(configFile, sets);
      }
      if (!runSection.resume()) {
        RunDirectory.refuseExisting(runDir, "pass --resume to continue it, or choose another --out");
      }
      dist.barrier();  // every rank has looked before rank 0 creates the directory
      if (runSection.threads() > 0) Engine.setThreads(runSection.threads());
      PrintWriter stdout = spec.commandLine().getOut();
      try (PreparedRun run = prepare(config)) {
        if (dist.isMain()) {
          Files.createDirectories(runDir);
          loader().write(config, runDir.resolve(RunDirectory.CONFIG_FILE));
        }
        List<String> summary = run.run();
        if (dist.isMain()) for (String line : summary) stdout.println(line);
      }
    }
    return Main.OK;
  }

  /** The command's picocli spec: its name, its output. */
  CommandSpec spec() {
    return spec;
  }

  /** A metric for the summary: 4 decimals, or n/a when it was not measured (nothing held out). */
  static String number(double v) {
    return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.4f", v);
  }
}
