package org.rlhf4j.metrics;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The process's peak resident set size (VmHWM of /proc/self/status: Linux only). */
public final class PeakRss {
  private PeakRss() {}

  /** Peak RSS in GB (10^9 bytes), NaN where /proc is not there. */
  public static double gigabytes() {
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

  /**
   * Lowers the peak to the current RSS (Linux's clear_refs "5"), so that the next
   * {@link #gigabytes()} is the peak of what ran in between. Returns false where the kernel does
   * not allow it; the peak then stays the process's.
   */
  public static boolean reset() {
    try {
      Files.writeString(Path.of("/proc/self/clear_refs"), "5");
      return true;
    } catch (IOException | UnsupportedOperationException e) {
      return false;
    }
  }
}
