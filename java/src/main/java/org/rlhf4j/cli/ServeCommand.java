package org.rlhf4j.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.rlhf4j.serve.JobManager;
import org.rlhf4j.serve.JobServer;
import org.rlhf4j.serve.ServeToken;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** The job service: the HTTP API, events and dashboard over a job manager; runs until stopped. */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Run training jobs (sft, train-rm, ppo) behind an authenticated HTTP API with a live dashboard.",
        "API: POST /api/jobs {\"command\": \"ppo\", \"config\": {...}}; GET /api/jobs[/ID[/metrics|events|samples|log|"
            + "config]]; POST /api/jobs/ID/cancel|resume; DELETE /api/jobs/ID; GET /health, /metrics (Prometheus).",
        "Every request but /health needs 'Authorization: Bearer TOKEN'. Paths in configs must lie under --runs or an "
            + "--allow directory. Stop with Ctrl-C: running jobs stop at an iteration boundary, marked interrupted."})
final class ServeCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--host", paramLabel = "HOST", description = "Address to bind (default ${DEFAULT-VALUE}).")
  String host = "127.0.0.1";

  @Option(names = "--port", paramLabel = "PORT", description = "Port (default ${DEFAULT-VALUE}; 0 picks a free one).")
  int port = 8080;

  @Option(names = "--runs", paramLabel = "DIR", description = "Jobs' run directories and the service's state (default ${DEFAULT-VALUE}).")
  Path runs = Path.of("runs");

  @Option(names = "--token-file", paramLabel = "FILE",
      description = "Bearer token file (default: RUNS/serve.token, generated with mode 0600 at the first start).")
  Path tokenFile;

  @Option(names = "--allow", paramLabel = "DIR",
      description = "Another directory configs may name paths under, e.g. models and prompts (repeatable).")
  List<Path> allow = new ArrayList<>();

  @Option(names = "--max-body", paramLabel = "BYTES", description = "Largest request body (default ${DEFAULT-VALUE}).")
  long maxBody = JobServer.Options.DEFAULT_MAX_BODY;

  @Override
  public Integer call() throws Exception {
    for (Path a : allow) {
      if (!java.nio.file.Files.isDirectory(a)) throw new UsageException("--allow " + a + " is not a directory");
    }
    if (tokenFile != null && !java.nio.file.Files.isRegularFile(tokenFile)) {
      throw new UsageException("--token-file " + tokenFile + " is not a file");
    }
    JobServer.Options options = new JobServer.Options(host, port, maxBody);
    JobManager manager = new JobManager(runs, allow);
    ServeToken token = ServeToken.load(manager.runs(), tokenFile);
    if (tokenFile != null) manager.protect(tokenFile);
    JobServer server;
    try {
      server = new JobServer(manager, token, options).start();
    } catch (Exception e) {
      manager.close();
      throw new UsageException("cannot listen on " + host + ":" + port + ": " + e.getMessage());
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        server.close();
      } catch (Exception e) {
        // Stopping anyway: the jobs below are what matters.
      }
      manager.close();
      stopped.countDown();
    }, "rlhf4j-serve-stop"));
    spec.commandLine().getOut().printf("rlhf4j serve: http://%s:%d/ (runs %s, token in %s)%n", host, server.port(),
        manager.runs(), tokenFile != null ? tokenFile : manager.runs().resolve(ServeToken.FILE_NAME));
    spec.commandLine().getOut().flush();
    stopped.await();
    return Main.OK;
  }
}
