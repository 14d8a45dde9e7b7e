package org.rlhf4j.serve;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.rlhf4j.config.ConfigException;
import org.rlhf4j.metrics.MetricsRecord;
import org.rlhf4j.ppo.PpoTrainer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs training jobs (sft, train-rm, dpo, ppo) in this JVM, one at a time per device, each in its own
 * run directory under a runs root, the same directory the CLI's command writes (config.yaml,
 * metrics.jsonl, checkpoints/, report.html) plus job.json (the job's state), job.log and
 * samples.jsonl. The state lives in those files: a new manager over the same root lists every job,
 * marks the ones that were running {@link JobState#INTERRUPTED} (resumable from their newest
 * checkpoint) and queues again the ones that were waiting.
 *
 * <p>Jobs run in-process on one worker thread per device (run.device), not in a child JVM: an
 * embedding service gets iteration events and cancellation directly from the trainer, with no
 * classpath or JVM flags to forward, and the native library never aborts the process (its errors
 * are Java exceptions), so a failed job fails alone. Cancelling a running job stops it before
 * its next loading step while it loads, then at the next iteration boundary (PPO) or optimizer
 * step (sft, train-rm, dpo, whose steps are its iterations) with a checkpoint, from which resuming
 * continues.
 *
 * <p>Submitted configs are loaded by the CLI's loaders (same keys, same checks, same one-line
 * messages) and pass {@link SubmitChecks}: every path lies under the allowed roots after
 * resolving ".." and symbolic links, and the config object holding those real paths is the one
 * the job runs. A run directory belongs to one queued or running job at a time.
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
  /** In a job's directory while a cancel request stands: a service killed meanwhile ends it cancelled. */
  static final String CANCEL_FILE = "cancel.requested";

  private static final Logger LOG = LoggerFactory.getLogger(JobManager.class);
  private static final long CLOSE_WAIT_SECONDS = 120;

  /** A listener's registration; closing it stops the calls. */
  public interface Subscription extends AutoCloseable {
    @Override
    void close();
  }

  private final Path runs;
  private final JobFiles files;
  private final PathPolicy policy;
  private final SubmitChecks checks;
  private final Map<String, JobInfo> jobs = new ConcurrentHashMap<>();
  private final Map<String, ActiveJob> active = new ConcurrentHashMap<>();
  private final RunDirs dirs = new RunDirs();
  private final DeviceWorkers workers = new DeviceWorkers();
  private final JobEvents events = new JobEvents();
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
    this.checks = new SubmitChecks(this.runs, policy, new Devices(), dirs::owned);
    recover();
  }

  public Path runs() {
    return runs;
  }

  public PathPolicy policy() {
    return policy;
  }

  /** Keeps file (e.g. a --token-file outside the runs root) from ever being read as a job's input. */
  public void protect(Path file) {
    checks.protect(file);
  }

  // ---- Submitting -----------------------------------------------------------------------------

  /**
   * Checks a config as the CLI's command would (and against the service's limits), reserves its
   * run directory (under runs, unless the config sets run.out to an allowed place), writes its
   * effective config.yaml, and queues the job on its device.
   *
   * @param command sft, train-rm, dpo or ppo
   * @param config the config tree (sections run, model, ...), as a YAML or JSON file holds it
   * @throws ConfigException for a config the CLI or the service's limits would refuse (one line, naming the key)
   * @throws ForbiddenPathException when a path lies outside the allowed roots or is the service's state (nothing read)
   * @throws JobException (conflict) when run.out holds a run or belongs to a queued or running job
   */
  public JobInfo submit(String command, JsonNode config) {
    if (closing) throw new JobException(JobException.Reason.CONFLICT, "the job manager is shutting down");
    JobKind kind = JobKind.of(command);
    if (config != null && config.path("run").path("resume").asBoolean(false)) {
      throw new ConfigException("run.resume: a submitted job starts a new run; resume a job with its resume request");
    }
    String id = files.newId(jobs::containsKey);
    JobKind.Loaded loaded = checks.check(kind, config, runs.resolve(id));
    Path runDir = loaded.run().out();
    RunDirs.refuseExisting(runDir);
    JobInfo info = new JobInfo(id, kind.command(), JobState.QUEUED, runDir.toString(), loaded.run().device(),
        now(), null, null, null, 0, 0, null, Map.of());
    synchronized (this) {
      dirs.reserve(runDir, id);
      try {
        files.create(info, loaded.yaml());
      } catch (RuntimeException e) {
        dirs.release(runDir, id);
        throw e;
      }
      jobs.put(id, info);
      JobLog.line(files.log(id), "submitted: " + kind.command() + ", run directory " + runDir);
      publish(new JobEvent(JobEvent.STATE, id, 0, JobState.QUEUED, Map.of()));
      enqueue(info, loaded.config());
    }
    return info;
  }

  private void release(JobInfo info) {
    dirs.release(Path.of(info.runDir()), info.id());
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

  private JobInfo live(JobInfo info) {
    ActiveJob a = active.get(info.id());
    return a == null ? info : a.live(info);
  }

  /** metrics.jsonl of the job's run (empty before its first iteration). */
  public List<MetricsRecord> metrics(String id) throws IOException {
    return JobFiles.metrics(Path.of(require(id).runDir()));
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

  /** Calls listener with every event of job (of every job when job is null) until the handle is closed. */
  public Subscription listen(String job, JobListener listener) {
    return events.listen(job, listener);
  }

  private void publish(JobEvent e) {
    events.publish(e);
  }

  // ---- Controlling ----------------------------------------------------------------------------

  /**
   * Cancels a job: a queued one at once; a running one at its next iteration boundary (PPO) or
   * optimizer step (sft, train-rm, dpo), after which it checkpoints and becomes cancelled (watch its
   * events).
   *
   * @throws JobException when there is no such job or it is finished
   */
  public synchronized JobInfo cancel(String id) {
    JobInfo info = require(id);
    ActiveJob a = active.get(id);
    if (info.state().finished() || a == null) {
      throw new JobException(JobException.Reason.CONFLICT, "job " + id + " is " + info.state().label()
          + "; only a queued or running job can be cancelled");
    }
    a.cancelled = true;
    a.run.requestStop();
    Path log = files.log(id);
    if (info.state() == JobState.QUEUED) {
      active.remove(id);
      release(info);
      JobInfo done = info.withState(JobState.CANCELLED).withTimes(info.started(), now(), null);
      save(done);
      JobLog.line(log, "cancelled while queued");
      publish(new JobEvent(JobEvent.STATE, id, done.iteration(), JobState.CANCELLED, Map.of()));
      return done;
    }
    files.mark(id, CANCEL_FILE);
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
    dirs.reserve(Path.of(info.runDir()), id);
    files.unmark(id, CANCEL_FILE);
    JobInfo queued = info.withState(JobState.QUEUED).withTimes(info.started(), null, null);
    save(queued);
    JobLog.line(files.log(id), "resumed: queued again");
    publish(new JobEvent(JobEvent.STATE, id, queued.iteration(), JobState.QUEUED, Map.of()));
    enqueue(queued, null);
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
    ActiveJob a = active.remove(id);
    if (a != null) a.run.requestStop();
    release(info);
    jobs.remove(id);
    try {
      files.delete(id);
    } catch (IOException e) {
      throw new UncheckedIOException("deleting job " + id + ": " + e.getMessage(), e);
    }
  }

  // ---- Running --------------------------------------------------------------------------------

  /** Queues info on its device: with config (a new run), or reloading its run directory's (a resume). */
  private void enqueue(JobInfo info, Record config) {
    JobKind kind = JobKind.of(info.command());
    Path configFile = Path.of(info.runDir()).resolve(CONFIG_FILE);
    ActiveJob a = new ActiveJob(new JobRun(config != null ? () -> config : () -> checks.reload(kind, configFile).config()));
    active.put(info.id(), a);
    workers.execute(Devices.canonical(info.device()), () -> execute(info.id(), a));
  }

  private void execute(String id, ActiveJob a) {
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
    JobLog.line(log, "running on " + info.device());
    ActiveJob.End end = a.execute(id, log, new JobRun.Progress() {
      @Override
      public void total(long iterations) {
        update(id, j -> j.withProgress(j.iteration(), iterations, null, j.lastMetrics()));
      }

      @Override
      public void iteration(long iteration, Map<String, Double> metrics, List<PpoTrainer.Sample> samples) {
        if (!samples.isEmpty()) files.appendSamples(id, iteration, samples);
        update(id, j -> j.withProgress(iteration, j.totalIterations(), null, metrics));
        publish(new JobEvent(JobEvent.ITERATION, id, iteration, JobState.RUNNING, metrics));
      }
    });
    JobInfo done;
    synchronized (this) {
      active.remove(id, a);
      release(info);
      JobInfo current = jobs.get(id);
      if (current == null) return;
      done = JobFiles.withLastMetrics(current.withState(end.state()).withTimes(current.started(), now(), end.error()));
      save(done);
      publish(new JobEvent(JobEvent.STATE, id, done.iteration(), end.state(), Map.of()));
    }
  }

  private synchronized void update(String id, java.util.function.UnaryOperator<JobInfo> f) {
    JobInfo j = jobs.get(id);
    if (j != null) jobs.put(id, f.apply(j));
  }

  // ---- State on disk --------------------------------------------------------------------------

  private void save(JobInfo info) {
    jobs.put(info.id(), info);
    files.save(info);
  }

  private void recover() {
    List<JobInfo> queued = new ArrayList<>();
    for (JobInfo found : files.loadAll()) {
      JobInfo info = found.state() == JobState.RUNNING ? files.stopped(found, now()) : found;
      jobs.put(info.id(), info);
      if (info.state() == JobState.QUEUED) queued.add(info);
    }
    queued.sort(Comparator.comparing(JobInfo::created));
    synchronized (this) {
      for (JobInfo q : queued) {
        dirs.reserve(Path.of(q.runDir()), q.id());
        enqueue(q, null);
      }
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
    for (ActiveJob a : active.values()) a.run.requestStop();
    try {
      if (!workers.shutdown(CLOSE_WAIT_SECONDS)) {
        LOG.warn("a job is still running after {} s; it will show as interrupted at the next start",
            CLOSE_WAIT_SECONDS);
      }
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
    }
  }
}
