package org.rlhf4j.serve;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.rlhf4j.config.ConfigException;
import org.rlhf4j.engine.Engine;

/**
 * The devices this build of the native library has (cpu, cuda:0, ...), read once from its build
 * info, and the one name each device goes by: cuda is cuda:0 and cuda:007 is cuda:7, so that
 * spellings of one device share its worker and no spelling makes a worker for a device that is
 * not there. Thread-safe.
 */
final class Devices {
  private static final Pattern CUDA = Pattern.compile("cuda(?::(\\d{1,9}))?");

  private volatile List<String> known;

  /** The devices of this build, "cpu" first. */
  List<String> known() {
    List<String> k = known;
    if (k == null) known = k = Engine.buildInfo().devices();
    return k;
  }

  /** The canonical name of device (run.device's syntax was checked by the config). */
  static String canonical(String device) {
    Matcher m = CUDA.matcher(device);
    if (!m.matches()) return device;
    return "cuda:" + (m.group(1) == null ? 0 : Integer.parseInt(m.group(1)));
  }

  /** @throws ConfigException when device is not one of this build's */
  void require(String device) {
    if (!known().contains(canonical(device))) {
      throw new ConfigException("run.device: " + device + " is not a device of this build (it has "
          + String.join(", ", known()) + ")");
    }
  }
}
