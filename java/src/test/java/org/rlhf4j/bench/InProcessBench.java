package org.rlhf4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** The bench run in the test's JVM on the command line main builds, its standard output captured. */
final class InProcessBench {
  private InProcessBench() {}

  /** What the bench printed; it exited with status 0. */
  static String output(String... args) {
    PrintStream out = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    int status;
    try {
      System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
      status = PpoBench.cli().execute(args);
    } finally {
      System.setOut(out);
    }
    String text = buf.toString(StandardCharsets.UTF_8);
    assertEquals(0, status, text);
    return text;
  }

  /** The result line of that output. */
  static JsonNode lastJson(String output) throws Exception {
    return new ObjectMapper().readTree(PpoBench.lastJsonLine(output).orElseThrow());
  }
}
