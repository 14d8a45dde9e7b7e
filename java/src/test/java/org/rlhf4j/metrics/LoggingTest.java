package org.rlhf4j.metrics;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

class LoggingTest {
  @Test
  void setLevelSwitchesDebugOnAndOff() {
    Logger log = LoggerFactory.getLogger("org.rlhf4j.any");
    try {
      assertFalse(log.isDebugEnabled(), "logback.xml starts at INFO");
      Logging.setLevel("debug");
      assertTrue(log.isDebugEnabled());
    } finally {
      Logging.setLevel("INFO");
    }
    assertFalse(log.isDebugEnabled());
  }

  @Test
  void anUnknownLevelIsRejected() {
    var e = assertThrows(IllegalArgumentException.class, () -> Logging.setLevel("loud"));
    assertTrue(e.getMessage().contains("loud"));
  }
}
