package org.rlhf4j.reliability;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.rlhf4j.cli.Main;
import org.rlhf4j.engine.NativeLibrary;

/**
 * A training run in a child JVM (this JVM's java, classpath and native library), its stdout and
 * stderr in one file: the CLI, so a test can SIGKILL it as a crash or an OOM killer would, or a
 * probe whose memory no other test disturbs.
 */
final class TrainingProcess {
  private static final Pattern CHECKPOINT = Pattern.compile("INFO +(?:\\[rank \\d+\\] )?checkpoint .*iter-(\\d+)\\R");
  private static final Pattern RESUMED = Pattern.compile("resumed from (\\S+) \\(iteration (\\d+)\\)");

  private final Process process;
  private final Path output;
  private final long startNanos = System.nanoTime();

  private TrainingProcess(Process process, Path output) {
    this.process = process;
    this.output = output;
  }

  /** Starts {@code rlhf4j args...} (the CLI's main class). */
  static TrainingProcess cli(Path output, List<String> args) throws IOException {
    return start(output, List.of("-Xmx256m"), Main.class, args);
  }

  /** Starts {@code rlhf4j args...} with env added to its environment (a rank's torchrun variables). */
  static TrainingProcess cli(Path output, List<String> args, Map<String, String> env) throws IOException {
    return start(output, List.of("-Xmx256m"), Main.class, args, env);
  }

  /**
   * Starts main with args in a JVM given jvmOptions, one native thread (steadier timing on a
   * busy machine) and no progress bar.
   */
  static TrainingProcess start(Path output, List<String> jvmOptions, Class<?> main, List<String> args)
      throws IOException {
    return start(output, jvmOptions, main, args, Map.of());
  }

  /**
   * Starts {@code launcher... java ... rlhf4j args...}: the CLI as the command of a launcher such
   * as torchrun, which starts one such process per rank.
   */
  static TrainingProcess cliUnder(Path output, List<String> launcher, List<String> args) throws IOException {
    return start(output, launcher, List.of("-Xmx256m"), Main.class, args, Map.of());
  }

  private static TrainingProcess start(Path output, List<String> jvmOptions, Class<?> main, List<String> args,
      Map<String, String> env) throws IOException {
    return start(output, List.of(), jvmOptions, main, args, env);
  }

  private static TrainingProcess start(Path output, List<String> launcher, List<String> jvmOptions, Class<?> main,
      List<String> args, Map<String, String> env) throws IOException {
    List<String> command = new ArrayList<>(launcher);
    command.addAll(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=ALL-UNNAMED",
        "-XX:TieredStopAtLevel=1",  // starts faster; C2 would not pay off in a run of seconds
        "-D" + NativeLibrary.PROPERTY + "=" + NativeLibrary.path(),
        "-Drlhf4j.progress=off"));
    command.addAll(jvmOptions);
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
    command.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile());
    pb.environment().put("RLHF4J_THREADS", "1");
    pb.environment().putAll(env);
    return new TrainingProcess(pb.start(), output);
  }

  /** Everything the process printed so far. */
  String output() {
    try {
      return Files.readString(output);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The iterations whose checkpoint the process reported written, in order. */
  List<Long> checkpointsWritten() {
    List<Long> out = new ArrayList<>();
    Matcher m = CHECKPOINT.matcher(output());
    while (m.find()) out.add(Long.parseLong(m.group(1)));
    return out;
  }

  /** The iteration the process resumed from, if it got that far. */
  OptionalLong resumedFrom() {
    Matcher m = RESUMED.matcher(output());
    return m.find() ? OptionalLong.of(Long.parseLong(m.group(2))) : OptionalLong.empty();
  }

  long pid() {
    return process.pid();
  }

  boolean isAlive() {
    return process.isAlive();
  }

  double secondsSinceStart() {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  /** SIGKILL (destroyForcibly on Linux) to the process and what it started, then waits for it to be gone. */
  void kill() throws InterruptedException {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
    process.waitFor();
  }

  /** Waits up to seconds for the exit code; kills the process and fails when it does not end. */
  int waitFor(long seconds) throws InterruptedException {
    if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
      kill();
      throw new AssertionError("the run did not end within " + seconds + " s:\n" + output());
    }
    return process.exitValue();
  }
}
