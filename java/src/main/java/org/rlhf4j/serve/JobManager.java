package org.rlhf4j.serve;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.rlhf4j.checkpoint.RunCheckpoints;
import org.rlhf4j.config.ConfigException;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.MetricsRecord;
import org.rlhf4j.ppo.PpoTrainer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs training jobs (sft, train-rm, ppo) in this JVM, one at a time per device, each in its own
 * run directory under a runs root, the same directory the CLI's command writes (config.yaml,
 * metrics.jsonl, checkpoints/, report.html) plus job.json (the job's state), job.log and
 * samples.jsonl. The state lives in those files: a new manager over the same root lists every job,
 * marks the ones that were running {@link JobState#INTERRUPTED} (resumable from their newest
 * checkpoint) and queues again the ones that were waiting.
 *
 * <p>Jobs run in-process on one worker thread per device (run.device), not in a child JVM: an
 * embedding service gets iteration events and cancellation directly from the trainer, with no
 * classpath or JVM flags to forward, and the native library never aborts the process (its errors
 * are Java exceptions), so a failed job fails alone. Cancelling a running job stops it at the
 * next iteration boundary (PPO) or optimizer step (sft, train-rm, whose steps are its
 * iterations) and writes a checkpoint, from which resuming continues.
 *
 * <p>Submitted configs are loaded by the CLI's loaders (same keys, same checks, same one-line
 * messages) and every path in them must lie under the allowed roots after resolving ".." and
 * symbolic links; the checked real paths are what the job uses.
 *
 * <p>Thread-safe. {@link #close()} stops the running jobs at their next iteration boundary
 * (marking them interrupted) and leaves queued jobs queued for the next manager.
 */
public final class JobManager implements AutoCloseable {
  /** The effective config in the run directory (as the CLI writes it). */
  public static final String CONFIG_FILE = "config.yaml";
  /** The job's record in its directory. */
  public static final String JOB_FILE = "job.json";
  /** The decoded samples of each PPO iteration, one line per iteration. */
  public static final String SAMPLES_FILE = "samples.jsonl";

  private static final Logger LOG = LoggerFactory.getLogger(JobManager.class);
  private static final DateTimeFormatter ID_TIME = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")
      .withZone(ZoneOffset.UTC);
  private static final long CLOSE_WAIT_SECONDS = 120;

  /** A queued or running job: its execution and the numbers its ETA is made from. */
  private static final class Active {
    final JobRun run;
    volatile boolean cancelled;
    volatile long startNanos;
    volatile long startIteration = -1;

    Active(JobRun run) {
      this.run = run;
    }
  }

  private record Listening(String job, JobListener listener) {}

  /** A listener's registration; closing it stops the calls. */
  public interface Subscription extends AutoCloseable {
    @Override
    void close();
  }

  private final Path runs;
  private final JobFiles files;
  private final PathPolicy policy;
  private final Map<String, JobInfo> jobs = new ConcurrentHashMap<>();
  private final Map<String, Active> active = new ConcurrentHashMap<>();
  private final Map<String, ExecutorService> devices = new ConcurrentHashMap<>();
  private final List<Listening> subscriptions = new CopyOnWriteArrayList<>();
  private final SecureRandom random = new SecureRandom();
  private volatile boolean closing;

  /**
   * A manager over runs (created if missing); configs may name paths under runs and under
   * allowed. Lists the jobs already there, marks the ones that were running interrupted and
   * queues again the ones that were waiting.
   */
  public JobManager(Path runs, List<Path> allowed) {
    try {
      Files.createDirectories(runs);
      this.runs = runs.toAbsolutePath().toRealPath();
    } catch (IOException e) {
      throw new UncheckedIOException("runs directory " + runs + ": " + e.getMessage(), e);
    }
    this.files = new JobFiles(this.runs);
    List<Path> roots = new ArrayList<>();
    roots.add(this.runs);
    roots.addAll(allowed);
    this.policy = new PathPolicy(roots);
    recover();
  }

  public Path runs() {
    return runs;
  }

  public PathPolicy policy() {
    return policy;
  }

  // ---- Submitting -----------------------------------------------------------------------------

  /**
   * Checks a config as the CLI's command would, creates the job's run directory (under runs,
   * unless the config sets run.out to an allowed place) with its effective config.yaml, and
   * queues the job on its device.
   *
   * @param command sft, train-rm or ppo
   * @param config the config tree (sections run, model, ...), as a YAML or JSON file holds it
   * @throws ConfigException for a config the CLI would refuse (one line, naming the key)
   * @throws ForbiddenPathException when a path lies outside the allowed roots (nothing read)
   * @throws JobException (conflict) when run.out already holds a run
   */
  public JobInfo submit(String command, JsonNode config) {
    if (closing) throw new JobException(JobException.Reason.CONFLICT, "the job manager is shutting down");
    JobKind kind = JobKind.of(command);
    if (config != null && config.path("run").path("resume").asBoolean(false)) {
      throw new ConfigException("run.resume: a submitted job starts a new run; resume a job with its resume request");
    }
    String id = newId();
    Path jobDir = runs.resolve(id);
    List<String> overrides = new ArrayList<>();
    if (config == null || !config.path("run").has("out")) overrides.add(quoted("run.out", jobDir));
    JobKind.Loaded first = kind.load(config, overrides);
    // Every path as the OS would reach it, checked against the roots before anything is read.
    for (Map.Entry<String, Path> p : first.paths().entrySet()) {
      Path real = policy.check(p.getKey(), p.getValue());
      if (!p.getKey().equals("run.out") && !Files.exists(real)) {
        throw new ConfigException(p.getKey() + ": no such file or directory: " + p.getValue());
      }
      overrides.add(quoted(p.getKey(), real));
    }
    JobKind.Loaded loaded = kind.load(config, overrides);
    Path runDir = loaded.run().out();
    for (String name : List.of(MetricsLog.FILE_NAME, RunCheckpoints.DIR)) {
      if (Files.exists(runDir.resolve(name))) {
        throw new JobException(JobException.Reason.CONFLICT, "run.out " + runDir + " already holds a run (" + name
            + "); leave run.out out to get a new directory under the runs root");
      }
    }
    JobInfo info = new JobInfo(id, kind.command(), JobState.QUEUED, runDir.toString(), loaded.run().device(),
        now(), null, null, null, 0, 0, null, Map.of());
    try {
      Files.createDirectories(jobDir);
      Files.createDirectories(runDir);
      Files.writeString(runDir.resolve(CONFIG_FILE), loaded.yaml());
    } catch (IOException e) {
      throw new UncheckedIOException("creating the job directory " + jobDir + ": " + e.getMessage(), e);
    }
    JobLog.line(files.log(id), "submitted: " + kind.command() + ", run directory " + runDir);
    synchronized (this) {
      save(info);
      publish(new JobEvent(JobEvent.STATE, id, 0, JobState.QUEUED, Map.of()));
      enqueue(info, false);
    }
    return info;
  }

  private static String quoted(String key, Path p) {
    return key + "='" + p.toString().replace("'", "''") + "'";
  }

  private String newId() {
    while (true) {
      String id = ID_TIME.format(Instant.now()) + "-" + HexFormat.of().toHexDigits((short) random.nextInt());
      if (!jobs.containsKey(id) && !Files.exists(runs.resolve(id))) return id;
    }
  }

  // ---- Reading --------------------------------------------------------------------------------

  /** Every job, oldest first. */
  public List<JobInfo> list() {
    return jobs.values().stream().sorted(Comparator.comparing(JobInfo::created).thenComparing(JobInfo::id))
        .map(this::live).toList();
  }

  public Optional<JobInfo> get(String id) {
    return Optional.ofNullable(jobs.get(id)).map(this::live);
  }

  private JobInfo require(String id) {
    JobInfo info = jobs.get(id);
    if (info == null) throw new JobException(JobException.Reason.NOT_FOUND, "no job '" + id + "'");
    return info;
  }

  /** The ETA of a running job from its iterations so far in this execution. */
  private JobInfo live(JobInfo info) {
    Active a = active.get(info.id());
    if (info.state() != JobState.RUNNING || a == null || a.startIteration < 0) return info;
    long done = info.iteration() - a.startIteration;
    if (done <= 0 || info.totalIterations() <= 0) return info;
    double perIteration = (System.nanoTime() - a.startNanos) / 1e9 / done;
    double eta = perIteration * Math.max(0, info.totalIterations() - info.iteration());
    return info.withProgress(info.iteration(), info.totalIterations(), eta, info.lastMetrics());
  }

  /** metrics.jsonl of the job's run (empty before its first iteration). */
  public List<MetricsRecord> metrics(String id) throws IOException {
    Path file = Path.of(require(id).runDir()).resolve(MetricsLog.FILE_NAME);
    return Files.exists(file) ? MetricsLog.read(file) : List.of();
  }

  /**
   * The samples of each PPO iteration, in iteration order: {"iteration": n, "samples": [{"prompt",
   * "response", "score"}]}. An iteration redone after a resume shows its last run.
   */
  public List<JsonNode> samples(String id) throws IOException {
    return files.samples(require(id).id());
  }

  /** The end of job.log (at most its last MiB). */
  public String log(String id) throws IOException {
    return files.logTail(require(id).id());
  }

  /** The effective config (config.yaml) the job runs with. */
  public String config(String id) throws IOException {
    return Files.readString(Path.of(require(id).runDir()).resolve(CONFIG_FILE));
  }

  // ---- Watching -------------------------------------------------------------------------------

  /**
   * Calls listener with every event of job (or of every job when job is null) until the
   * returned handle is closed.
   */
  public Subscription listen(String job, JobListener listener) {
    Listening s = new Listening(job, listener);
    subscriptions.add(s);
    return () -> subscriptions.remove(s);
  }

  /**
   * State events are published under the manager's lock, with the change they report, so every
   * watcher sees a job's states in the order they happened (queued before running, even when the
   * device's thread takes the job at once). Listeners only hand events on (SSE queues them).
   */
  private void publish(JobEvent e) {
    for (Listening s : subscriptions) {
      if (s.job() != null && !s.job().equals(e.job())) continue;
      try {
        s.listener().onEvent(e);
      } catch (RuntimeException ex) {
        LOG.warn("a listener of job {} failed: {}", e.job(), ex.toString());
      }
    }
  }

  // ---- Controlling ----------------------------------------------------------------------------

  /**
   * Cancels a job: a queued one at once; a running one at its next iteration boundary (PPO) or
   * optimizer step (sft, train-rm), after which it checkpoints and becomes cancelled (watch its
   * events).
   *
   * @throws JobException when there is no such job or it is finished
   */
  public synchronized JobInfo cancel(String id) {
    JobInfo info = require(id);
    Active a = active.get(id);
    if (info.state().finished() || a == null) {
      throw new JobException(JobException.Reason.CONFLICT, "job " + id + " is " + info.state().label()
          + "; only a queued or running job can be cancelled");
    }
    a.cancelled = true;
    a.run.requestStop();
    Path log = files.log(id);
    if (info.state() == JobState.QUEUED) {
      active.remove(id);
      JobInfo done = info.withState(JobState.CANCELLED).withTimes(info.started(), now(), null);
      save(done);
      JobLog.line(log, "cancelled while queued");
      publish(new JobEvent(JobEvent.STATE, id, done.iteration(), JobState.CANCELLED, Map.of()));
      return done;
    }
    JobLog.line(log, "cancel requested: stopping after the current iteration");
    return live(info);
  }

  /**
   * Queues a cancelled, interrupted or failed job again; it continues from its newest checkpoint
   * (from the start when it has none).
   *
   * @throws JobException when there is no such job, or it is queued, running or succeeded
   */
  public synchronized JobInfo resume(String id) {
    JobInfo info = require(id);
    if (!List.of(JobState.CANCELLED, JobState.INTERRUPTED, JobState.FAILED).contains(info.state())) {
      throw new JobException(JobException.Reason.CONFLICT, "job " + id + " is " + info.state().label()
          + "; only a cancelled, interrupted or failed job can be resumed");
    }
    JobInfo queued = info.withState(JobState.QUEUED).withTimes(info.started(), null, null);
    save(queued);
    JobLog.line(files.log(id), "resumed: queued again");
    publish(new JobEvent(JobEvent.STATE, id, queued.iteration(), JobState.QUEUED, Map.of()));
    enqueue(queued, true);
    return queued;
  }

  /**
   * Deletes a job that is not running: its directory under runs (a queued job leaves its queue).
   *
   * @throws JobException when there is no such job or it is running
   */
  public synchronized void delete(String id) {
    JobInfo info = require(id);
    if (info.state() == JobState.RUNNING) {
      throw new JobException(JobException.Reason.CONFLICT, "job " + id + " is running; cancel it first");
    }
    Active a = active.remove(id);
    if (a != null) a.run.requestStop();
    jobs.remove(id);
    try {
      files.delete(id);
    } catch (IOException e) {
      throw new UncheckedIOException("deleting job " + id + ": " + e.getMessage(), e);
    }
  }

  // ---- Running --------------------------------------------------------------------------------

  private void enqueue(JobInfo info, boolean resume) {
    Active a = new Active(new JobRun(JobKind.of(info.command()), Path.of(info.runDir()), resume));
    active.put(info.id(), a);
    devices.computeIfAbsent(info.device(), d -> Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "rlhf4j-jobs-" + d);
      t.setDaemon(true);
      return t;
    })).execute(() -> execute(info.id(), a));
  }

  private void execute(String id, Active a) {
    JobInfo info;
    synchronized (this) {
      info = jobs.get(id);
      // Deleted, cancelled while queued, or left queued for the next manager.
      if (info == null || active.get(id) != a || a.run.stopRequested() || closing) return;
      info = info.withState(JobState.RUNNING).withTimes(now(), null, null);
      save(info);
      publish(new JobEvent(JobEvent.STATE, id, info.iteration(), JobState.RUNNING, Map.of()));
    }
    Path log = files.log(id);
    JobLog.bind(id, log);
    JobLog.line(log, "running on " + info.device());
    JobState end;
    String error = null;
    try {
      a.startNanos = System.nanoTime();
      boolean complete = a.run.run(new JobRun.Progress() {
        @Override
        public void total(long iterations) {
          update(id, j -> j.withProgress(j.iteration(), iterations, null, j.lastMetrics()));
        }

        @Override
        public void iteration(long iteration, Map<String, Double> metrics, List<PpoTrainer.Sample> samples) {
          onIteration(id, a, iteration, metrics, samples);
        }
      });
      // A stop that came as the last iteration finished stopped nothing: the run is complete.
      end = complete || !a.run.stopRequested() ? JobState.SUCCEEDED
          : a.cancelled ? JobState.CANCELLED : JobState.INTERRUPTED;
    } catch (Throwable e) {
      end = JobState.FAILED;
      error = oneLine(e);
      LOG.error("job {} failed: {}", id, error, e);
    } finally {
      JobLog.unbind(id);
    }
    JobLog.line(log, end.label() + (error == null ? "" : ": " + error));
    JobInfo done;
    synchronized (this) {
      active.remove(id, a);
      JobInfo current = jobs.get(id);
      if (current == null) return;
      done = JobFiles.withLastMetrics(current.withState(end).withTimes(current.started(), now(), error));
      save(done);
      publish(new JobEvent(JobEvent.STATE, id, done.iteration(), end, Map.of()));
    }
  }

  private void onIteration(String id, Active a, long iteration, Map<String, Double> metrics,
      List<PpoTrainer.Sample> samples) {
    if (a.startIteration < 0) {
      a.startIteration = iteration - 1;
    }
    if (!samples.isEmpty()) files.appendSamples(id, iteration, samples);
    update(id, j -> j.withProgress(iteration, j.totalIterations(), null, metrics));
    publish(new JobEvent(JobEvent.ITERATION, id, iteration, JobState.RUNNING, metrics));
  }

  private synchronized void update(String id, java.util.function.UnaryOperator<JobInfo> f) {
    JobInfo j = jobs.get(id);
    if (j != null) jobs.put(id, f.apply(j));
  }

  private static String oneLine(Throwable e) {
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return m.lines().findFirst().orElse("").strip();
  }

  // ---- State on disk --------------------------------------------------------------------------

  private void save(JobInfo info) {
    jobs.put(info.id(), info);
    files.save(info);
  }

  private void recover() {
    List<JobInfo> queued = new ArrayList<>();
    for (JobInfo found : files.loadAll()) {
      JobInfo info = found;
      if (info.state() == JobState.RUNNING) {
        info = JobFiles.withLastMetrics(info.withState(JobState.INTERRUPTED).withTimes(info.started(), now(), null));
        JobLog.line(files.log(info.id()), "interrupted: the service stopped while the job was running");
        save(info);
      } else {
        jobs.put(info.id(), info);
      }
      if (info.state() == JobState.QUEUED) queued.add(info);
    }
    queued.sort(Comparator.comparing(JobInfo::created));
    synchronized (this) {
      for (JobInfo q : queued) enqueue(q, true);
    }
  }

  private static String now() {
    return Instant.now().toString();
  }

  /** Counts of jobs by state (every state present, zeros included), for monitoring. */
  public Map<JobState, Long> countByState() {
    Map<JobState, Long> out = new LinkedHashMap<>();
    for (JobState s : JobState.values()) out.put(s, 0L);
    for (JobInfo j : jobs.values()) out.merge(j.state(), 1L, Long::sum);
    return out;
  }

  /**
   * Stops running jobs at their next iteration boundary or optimizer step (they checkpoint and
   * become interrupted) and waits for them, up to two minutes (a job still running then stays
   * "running" on disk and the next manager marks it interrupted); queued jobs stay queued in
   * their job.json for the next manager.
   */
  @Override
  public void close() {
    closing = true;
    for (Active a : active.values()) a.run.requestStop();
    for (ExecutorService e : devices.values()) e.shutdown();
    for (ExecutorService e : devices.values()) {
      try {
        if (!e.awaitTermination(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS)) {
          LOG.warn("a job is still running after {} s; it will show as interrupted at the next start",
              CLOSE_WAIT_SECONDS);
        }
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
