package org.rlhf4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * scripts/device-check on a machine without a usable NVIDIA GPU: it stops at once with one
 * line saying so, writes nothing, and exits 1. PATH is set to a directory of chosen tools so
 * the test means the same on a machine that has a GPU.
 */
class DeviceCheckScriptTest {
  private static final Path SCRIPT = Path.of(System.getProperty("rlhf4j.repo", "."), "scripts", "device-check");

  @TempDir Path tools;
  @TempDir Path out;

  @Test
  void withoutNvidiaSmiItSaysThereIsNoGpu() throws Exception {
    link("dirname", "timeout", "head", "awk");
    Result r = run();
    assertEquals(1, r.status, r.stderr);
    assertEquals(1, r.stderr.lines().count(), "one line: " + r.stderr);
    assertTrue(r.stderr.startsWith("device-check: no NVIDIA GPU: nvidia-smi not found"), r.stderr);
    assertFalse(Files.exists(out.resolve("check")), "nothing written");
  }

  @Test
  void whenNvidiaSmiListsNoGpuItSaysSo() throws Exception {
    link("dirname", "timeout", "head", "awk");
    Path smi = tools.resolve("nvidia-smi");
    Files.writeString(smi, "#!/bin/sh\nexit 0\n");
    Files.setPosixFilePermissions(smi, PosixFilePermissions.fromString("rwxr-xr-x"));
    Result r = run();
    assertEquals(1, r.status, r.stderr);
    assertEquals(1, r.stderr.lines().count(), "one line: " + r.stderr);
    assertTrue(r.stderr.startsWith("device-check: no NVIDIA GPU: nvidia-smi lists none"), r.stderr);
  }

  private void link(String... names) throws IOException {
    for (String name : names) {
      for (String dir : List.of("/usr/bin", "/bin")) {
        Path target = Path.of(dir, name);
        if (Files.isExecutable(target)) {
          Files.createSymbolicLink(tools.resolve(name), target);
          break;
        }
      }
    }
  }

  private record Result(int status, String stderr) {}

  private Result run() throws Exception {
    ProcessBuilder pb = new ProcessBuilder("/bin/bash", SCRIPT.toString(), "--out", out.resolve("check").toString());
    pb.environment().put("PATH", tools.toString());
    pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
    Process p = pb.start();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "device-check did not stop within 30 s");
    return new Result(p.exitValue(), err);
  }
}
