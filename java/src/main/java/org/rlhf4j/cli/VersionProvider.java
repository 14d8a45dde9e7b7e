package org.rlhf4j.cli;

import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine.IVersionProvider;

/** The jar's version, from the properties the build wrote. */
final class VersionProvider implements IVersionProvider {
  @Override
  public String[] getVersion() throws Exception {
    Properties p = new Properties();
    try (InputStream in = VersionProvider.class.getResourceAsStream("/rlhf4j-build.properties")) {
      if (in != null) p.load(in);
    }
    return new String[] {"rlhf4j " + p.getProperty("version", "unknown")};
  }
}
