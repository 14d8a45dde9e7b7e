package org.rlhf4j.cli;

import java.io.PrintWriter;
import org.rlhf4j.engine.NativeException;
import org.rlhf4j.engine.NativeLibraryException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The rlhf4j command line: a thin layer over the Java API. Exit codes: 0 success, 2 usage or
 * configuration error, 1 runtime failure. Errors are one line; --verbose adds the trace.
 */
@Command(
    name = "rlhf4j",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "RLHF with PPO for language models, on the JVM.",
    subcommands = {InfoCommand.class, DemoCommand.class,
        SftCommand.class,
        TrainRmCommand.class,
        DpoCommand.class,
        PpoCommand.class,
        GenerateCommand.class,
        EvalCommand.class,
        ServeCommand.class, LaunchCommand.class, ExportCommand.class, RenderCommand.class})
public final class Main implements Runnable {
  public static final int OK = 0;
  public static final int FAILURE = 1;
  public static final int USAGE = 2;

  @Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT, description = "Print stack traces of errors.")
  boolean verbose;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(new CommandLine(this), "a command is required (see --help)");
  }

  public static void main(String[] args) {
    System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
  }

  /** Runs the CLI with the given streams and returns its exit code (for tests and embedding). */
  public static int run(String[] args, PrintWriter out, PrintWriter err) {
    Main main = new Main();
    CommandLine cli = new CommandLine(main);
    cli.getSubcommands().get("launch").setStopAtPositional(true);  // the rest is the ranks' command line
    cli.setOut(out);
    cli.setErr(err);
    cli.setExitCodeExceptionMapper(Main::exitCode);
    cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
      err.println("error: " + message(e));
      if (main.verbose) e.printStackTrace(err);
      return exitCode(e);
    });
    cli.setParameterExceptionHandler((e, a) -> {
      err.println("error: " + e.getMessage());
      err.println("(run '" + e.getCommandLine().getCommandSpec().qualifiedName() + " --help' for usage)");
      return USAGE;
    });
    return cli.execute(args);
  }

  /** Usage and configuration problems exit 2; everything else that fails exits 1. */
  static int exitCode(Throwable e) {
    if (e instanceof CommandLine.ParameterException || e instanceof UsageException) return USAGE;
    if (e instanceof IllegalArgumentException) return USAGE;
    return FAILURE;
  }

  static String message(Throwable e) {
    if (e instanceof NativeException || e instanceof NativeLibraryException || e instanceof UsageException) {
      return e.getMessage();
    }
    String m = e.getMessage();
    return m == null ? e.getClass().getSimpleName() : m;
  }
}
