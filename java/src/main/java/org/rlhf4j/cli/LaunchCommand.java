package org.rlhf4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * Starts the ranks of a data-parallel job on this node, the torchrun way: N processes of
 * {@code rlhf4j <command> [args]}, each with torchrun's environment (RANK, WORLD_SIZE,
 * LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT), rank 0 of the job
 * hosting the rendezvous store. SIGINT and SIGTERM stop every rank; when one rank fails, the
 * others get a grace period to fail on their own (they report which rank they lost), then are
 * stopped, and launch exits non-zero naming the rank that failed first and its exit code.
 */
@Command(name = "launch", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Run a training command (ppo, sft, train-rm, dpo) data-parallel on N processes of this node, "
        + "with torchrun's environment.")
final class LaunchCommand implements Callable<Integer> {
  /** How long the other ranks may take to fail by themselves, and a stopped rank to exit. */
  private static final long GRACE_SECONDS = 10;

  private CommandSpec spec;

  @Option(names = "--nproc-per-node", required = true, paramLabel = "N", description = "Processes (ranks) on this node.")
  int nprocPerNode;

  @Option(names = "--nnodes", paramLabel = "M", defaultValue = "1", description = "Nodes in the job (default 1).")
  int nnodes;

  @Option(names = "--node-rank", paramLabel = "R", defaultValue = "0", description = "This node's index in [0, M).")
  int nodeRank;

  @Option(names = "--master-addr", paramLabel = "HOST", defaultValue = "127.0.0.1",
      description = "Address of node 0, where rank 0 hosts the rendezvous store (default 127.0.0.1).")
  String masterAddr;

  @Option(names = "--master-port", paramLabel = "PORT", defaultValue = "29500",
      description = "Port of the rendezvous store (default 29500).")
  int masterPort;

  @Parameters(arity = "1..*", paramLabel = "COMMAND", description = "The command and its arguments, e.g. ppo --config ppo.yaml.")
  List<String> command;

  @Spec
  void spec(CommandSpec commandSpec) {
    this.spec = commandSpec;
  }

  @Override
  public Integer call() throws IOException, InterruptedException {
    if (nprocPerNode < 1) throw new UsageException("--nproc-per-node must be >= 1, got " + nprocPerNode);
    if (nnodes < 1) throw new UsageException("--nnodes must be >= 1, got " + nnodes);
    if (nodeRank < 0 || nodeRank >= nnodes) {
      throw new UsageException("--node-rank must be in [0, " + nnodes + "), got " + nodeRank);
    }
    if (masterPort < 1 || masterPort > 65535) throw new UsageException("--master-port must be in [1, 65535]");
    if (!List.of("ppo", "sft", "train-rm", "dpo").contains(command.getFirst())) {
      throw new UsageException("launch runs ppo, sft, train-rm or dpo, not '" + command.getFirst() + "'");
    }
    PrintWriter err = spec.commandLine().getErr();
    int world = nnodes * nprocPerNode;
    List<Process> ranks = new ArrayList<>();
    Thread stopOnSignal = new Thread(() -> stopAll(ranks));
    Runtime.getRuntime().addShutdownHook(stopOnSignal);  // SIGINT / SIGTERM to launch stop every rank
    try {
      for (int local = 0; local < nprocPerNode; local++) {
        ProcessBuilder pb = new ProcessBuilder(childCommand()).inheritIO();
        Map<String, String> env = pb.environment();
        env.put("RANK", Integer.toString(nodeRank * nprocPerNode + local));
        env.put("WORLD_SIZE", Integer.toString(world));
        env.put("LOCAL_RANK", Integer.toString(local));
        env.put("LOCAL_WORLD_SIZE", Integer.toString(nprocPerNode));
        env.put("GROUP_RANK", Integer.toString(nodeRank));
        env.put("MASTER_ADDR", masterAddr);
        env.put("MASTER_PORT", Integer.toString(masterPort));
        env.put("TORCHELASTIC_USE_AGENT_STORE", "False");
        env.put("TORCHELASTIC_RESTART_COUNT", "0");
        // As torchrun sets OMP_NUM_THREADS: ranks share the cores instead of each taking all.
        env.putIfAbsent("RLHF4J_THREADS", Integer.toString(threadsPerRank()));
        Process p = pb.start();
        synchronized (ranks) {
          ranks.add(p);
        }
        err.println("launch: rank " + (nodeRank * nprocPerNode + local) + " of " + world + " started, pid " + p.pid());
      }
      while (true) {
        boolean allDone = true;
        for (int local = 0; local < ranks.size(); local++) {
          Process p = ranks.get(local);
          if (p.isAlive()) {
            allDone = false;
          } else if (p.exitValue() != 0) {
            int rank = nodeRank * nprocPerNode + local;
            awaitAll(ranks, GRACE_SECONDS);
            stopAll(ranks);
            err.println("error: launch: rank " + rank + " (local rank " + local + ", pid " + p.pid()
                + ") exited with code " + p.exitValue() + describe(p.exitValue()) + "; stopped the other ranks");
            return Main.FAILURE;
          }
        }
        if (allDone) return Main.OK;
        TimeUnit.MILLISECONDS.sleep(100);
      }
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(stopOnSignal);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running: it stops the ranks
      }
    }
  }

  private int threadsPerRank() {
    return Math.max(1, Runtime.getRuntime().availableProcessors() / nprocPerNode);
  }

  private static String describe(int code) {
    return code > 128 && code < 160 ? " (killed by signal " + (code - 128) + ")" : "";
  }

  /** This JVM's java, options and classpath, running the CLI with the command. */
  private List<String> childCommand() {
    List<String> c = new ArrayList<>();
    c.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    c.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
    c.add("-cp");
    c.add(System.getProperty("java.class.path"));
    c.add(Main.class.getName());
    c.addAll(command);
    return c;
  }

  /** Waits up to seconds for every rank to exit by itself. */
  private static void awaitAll(List<Process> ranks, long seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    for (Process p : ranks) p.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
  }

  /** SIGTERM to every live rank, SIGKILL to those still alive after the grace period. */
  private static void stopAll(List<Process> ranks) {
    List<Process> live;
    synchronized (ranks) {
      live = ranks.stream().filter(Process::isAlive).toList();
    }
    for (Process p : live) p.destroy();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(GRACE_SECONDS);
    for (Process p : live) {
      try {
        if (!p.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) p.destroyForcibly().waitFor();
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }
}
