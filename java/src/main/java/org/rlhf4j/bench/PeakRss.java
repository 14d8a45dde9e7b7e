package org.rlhf4j.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The process's peak resident set size (VmHWM of /proc/self/status: Linux only). */
final class PeakRss {
  private PeakRss() {}

  /** Peak RSS in GB (10^9 bytes), NaN where /proc is not there. */
  static double gigabytes() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024.0 / 1e9;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return Double.NaN;
    }
    return Double.NaN;
  }
}
