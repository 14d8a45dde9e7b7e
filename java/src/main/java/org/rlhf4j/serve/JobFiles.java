package org.rlhf4j.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.MetricsRecord;
import org.rlhf4j.ppo.PpoTrainer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The job manager's files in each job's directory under the runs root: job.json (written
 * through a temp file and an atomic rename), samples.jsonl, job.log. Stateless apart from the
 * root; safe to call from several threads for different jobs.
 */
final class JobFiles {
  private static final Logger LOG = LoggerFactory.getLogger(JobFiles.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int LOG_TAIL = 1 << 20;

  private static final DateTimeFormatter ID_TIME = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")
      .withZone(ZoneOffset.UTC);

  private final Path runs;
  private final SecureRandom random = new SecureRandom();

  JobFiles(Path runs) {
    this.runs = runs;
  }

  Path dir(String id) {
    return runs.resolve(id);
  }

  /** A new job id (UTC time and 16 random bits) that is not taken and has no directory. */
  String newId(Predicate<String> taken) {
    while (true) {
      String id = ID_TIME.format(Instant.now()) + "-" + HexFormat.of().toHexDigits((short) random.nextInt());
      if (!taken.test(id) && !Files.exists(dir(id))) return id;
    }
  }

  /**
   * The record of a job found running by a new manager (its service stopped meanwhile), saved:
   * cancelled when a cancel request stood (what the user asked for), else interrupted.
   */
  JobInfo stopped(JobInfo running, String now) {
    boolean cancelled = marked(running.id(), JobManager.CANCEL_FILE);
    JobState end = cancelled ? JobState.CANCELLED : JobState.INTERRUPTED;
    JobInfo info = withLastMetrics(running.withState(end).withTimes(running.started(), now, null));
    JobLog.line(log(info.id()), end.label() + ": the service stopped while the job was running"
        + (cancelled ? " after a cancel request" : ""));
    save(info);
    return info;
  }

  Path log(String id) {
    return dir(id).resolve(JobLog.FILE_NAME);
  }

  /**
   * Creates the job's directory with its record and its run directory with config.yaml; on a
   * failure removes what it created of the job's directory.
   */
  void create(JobInfo info, String configYaml) {
    Path runDir = Path.of(info.runDir());
    try {
      Files.createDirectories(dir(info.id()));
      Files.createDirectories(runDir);
      Files.writeString(runDir.resolve(JobManager.CONFIG_FILE), configYaml);
      save(info);
    } catch (IOException | RuntimeException e) {
      try {
        delete(info.id());
      } catch (IOException ignored) {
        // The failure below is what the caller needs to know.
      }
      if (e instanceof IOException io) {
        throw new UncheckedIOException("creating the job directory " + dir(info.id()) + ": " + io.getMessage(), io);
      }
      throw (RuntimeException) e;
    }
  }

  /** Leaves an empty marker file in the job's directory (a failure is logged: the marker is advisory). */
  void mark(String id, String name) {
    try {
      Files.write(dir(id).resolve(name), new byte[0]);
    } catch (IOException e) {
      LOG.warn("job {}: cannot write {}: {}", id, name, e.getMessage());
    }
  }

  void unmark(String id, String name) {
    try {
      Files.deleteIfExists(dir(id).resolve(name));
    } catch (IOException e) {
      LOG.warn("job {}: cannot remove {}: {}", id, name, e.getMessage());
    }
  }

  boolean marked(String id, String name) {
    return Files.exists(dir(id).resolve(name));
  }

  /** metrics.jsonl of a run (empty before its first iteration). */
  static List<MetricsRecord> metrics(Path runDir) throws IOException {
    Path file = runDir.resolve(MetricsLog.FILE_NAME);
    return Files.exists(file) ? MetricsLog.read(file) : List.of();
  }

  /** Writes job.json; the file is the old record or the whole new one, never a torn one. */
  void save(JobInfo info) {
    Path file = dir(info.id()).resolve(JobManager.JOB_FILE);
    Path tmp = file.resolveSibling("." + JobManager.JOB_FILE + ".tmp");
    // The ETA is live only: job.json keeps everything else.
    JobInfo kept = info.withProgress(info.iteration(), info.totalIterations(), null, info.lastMetrics());
    try {
      Files.writeString(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(kept));
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("writing " + file + ": " + e.getMessage(), e);
    }
  }

  /** Every job.json under the root, in directory order; unreadable ones are skipped with a warning. */
  List<JobInfo> loadAll() {
    List<JobInfo> out = new ArrayList<>();
    try (Stream<Path> dirs = Files.list(runs)) {
      for (Path dir : dirs.sorted().toList()) {
        Path file = dir.resolve(JobManager.JOB_FILE);
        if (!Files.isRegularFile(file)) continue;
        try {
          JobInfo info = JSON.readValue(file.toFile(), JobInfo.class);
          if (info.id().equals(dir.getFileName().toString())) {
            out.add(info);
          } else {
            LOG.warn("{}: names job {}, not its directory; skipped", file, info.id());
          }
        } catch (IOException e) {
          LOG.warn("{}: not a job record ({}); skipped", file, e.getMessage());
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("listing " + runs + ": " + e.getMessage(), e);
    }
    return out;
  }

  /** info with the iteration and metrics of the last line of its run's metrics.jsonl. */
  static JobInfo withLastMetrics(JobInfo info) {
    try {
      Path file = Path.of(info.runDir()).resolve(MetricsLog.FILE_NAME);
      if (!Files.exists(file)) return info;
      List<MetricsRecord> records = MetricsLog.read(file);
      if (records.isEmpty()) return info;
      MetricsRecord last = records.getLast();
      return info.withProgress(last.iteration(), info.totalIterations(), null, last.values());
    } catch (IOException | RuntimeException e) {
      return info;
    }
  }

  /** Appends one PPO iteration's samples as a line of samples.jsonl; a failure only costs the samples. */
  void appendSamples(String id, long iteration, List<PpoTrainer.Sample> samples) {
    ObjectNode line = JSON.createObjectNode();
    line.put("iteration", iteration);
    ArrayNode list = line.putArray("samples");
    for (PpoTrainer.Sample s : samples) {
      list.addObject().put("prompt", s.prompt()).put("response", s.response()).put("score", s.score());
    }
    try {
      Files.writeString(dir(id).resolve(JobManager.SAMPLES_FILE), JSON.writeValueAsString(line) + "\n",
          StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    } catch (IOException e) {
      LOG.warn("job {}: cannot append samples: {}", id, e.getMessage());
    }
  }

  /** samples.jsonl by iteration; an iteration redone after a resume shows its last run. */
  List<JsonNode> samples(String id) throws IOException {
    Path file = dir(id).resolve(JobManager.SAMPLES_FILE);
    if (!Files.exists(file)) return List.of();
    TreeMap<Long, JsonNode> byIteration = new TreeMap<>();
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      if (line.isBlank()) continue;
      try {
        JsonNode n = JSON.readTree(line);
        byIteration.put(n.path("iteration").asLong(), n);
      } catch (IOException e) {
        // A line torn by a crash: the iteration is redone or lost, as in metrics.jsonl.
      }
    }
    return List.copyOf(byIteration.values());
  }

  /** The end of job.log (at most its last MiB). */
  String logTail(String id) throws IOException {
    Path file = log(id);
    if (!Files.exists(file)) return "";
    byte[] all = Files.readAllBytes(file);
    int from = Math.max(0, all.length - LOG_TAIL);
    return new String(all, from, all.length - from, StandardCharsets.UTF_8);
  }

  /** Removes the job's directory and everything in it. */
  void delete(String id) throws IOException {
    Path dir = dir(id);
    if (!Files.exists(dir)) return;
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
    }
  }
}
