package org.rlhf4j.serve;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Each job's job.log: the manager's lines about it (state changes, errors) and every log line
 * the trainer writes on the job's worker thread, told apart by the MDC key {@link #MDC_KEY}.
 * Capturing the trainer's lines needs logback (the project's backend); with another slf4j
 * backend job.log holds the manager's lines only. Thread-safe.
 */
final class JobLog {
  static final String FILE_NAME = "job.log";
  static final String MDC_KEY = "rlhf4j.job";

  private static final Map<String, Path> FILES = new ConcurrentHashMap<>();
  private static volatile boolean installed;

  private JobLog() {}

  /** Lines logged on this thread from now on go to job's log too, until {@link #unbind}. */
  static void bind(String job, Path file) {
    install();
    FILES.put(job, file);
    MDC.put(MDC_KEY, job);
  }

  static void unbind(String job) {
    MDC.remove(MDC_KEY);
    FILES.remove(job);
  }

  /** Appends one line (timestamped) to file; a failure to log never fails the job. */
  static void line(Path file, String text) {
    try {
      Files.writeString(file, Instant.now() + " " + text + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    } catch (IOException e) {
      LoggerFactory.getLogger(JobLog.class).warn("{}: {}", file, e.getMessage());
    }
  }

  private static synchronized void install() {
    if (installed) return;
    installed = true;
    if (LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME) instanceof Logger root) {
      AppenderBase<ILoggingEvent> appender = new AppenderBase<>() {
        @Override
        protected void append(ILoggingEvent e) {
          String job = e.getMDCPropertyMap().get(MDC_KEY);
          Path file = job == null ? null : FILES.get(job);
          if (file != null) line(file, e.getLevel() + " " + e.getFormattedMessage());
        }
      };
      appender.setContext(root.getLoggerContext());
      appender.setName("rlhf4j-jobs");
      appender.start();
      root.addAppender(appender);
    }
  }
}
