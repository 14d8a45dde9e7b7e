package org.rlhf4j.serve;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;

/** The service's bearer token: read from a file, or generated once into runs/serve.token (mode 0600). */
public final class ServeToken {
  /** The token file the service generates in its runs root unless told another. */
  public static final String FILE_NAME = "serve.token";

  private final byte[] token;

  private ServeToken(String token) {
    this.token = token.getBytes(StandardCharsets.UTF_8);
  }

  /**
   * The token in file (its first line, trimmed), or in runs/serve.token, generated there (32
   * random bytes as hex, readable by the owner only) when file is null and it does not exist.
   */
  public static ServeToken load(Path runs, Path file) {
    Path f = file != null ? file : runs.resolve(FILE_NAME);
    try {
      if (file == null && !Files.exists(f)) generate(f);
      String text = Files.readString(f, StandardCharsets.UTF_8).lines().findFirst().orElse("").strip();
      if (text.isEmpty()) throw new IllegalArgumentException("token file " + f + " is empty");
      return new ServeToken(text);
    } catch (IOException e) {
      throw new UncheckedIOException("token file " + f + ": " + e.getMessage(), e);
    }
  }

  /** A token given directly (an embedding service's own). */
  public static ServeToken of(String token) {
    if (token == null || token.isBlank()) throw new IllegalArgumentException("the token must not be empty");
    return new ServeToken(token.strip());
  }

  private static void generate(Path f) throws IOException {
    byte[] b = new byte[32];
    new SecureRandom().nextBytes(b);
    try {
      Files.createFile(f, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    } catch (UnsupportedOperationException e) {
      Files.createFile(f);
    } catch (FileAlreadyExistsException e) {
      return;
    }
    Files.writeString(f, HexFormat.of().formatHex(b) + "\n");
  }

  /** Whether an Authorization header carries this token ("Bearer TOKEN"), compared in constant time. */
  public boolean accepts(String authorization) {
    if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) return false;
    return MessageDigest.isEqual(token, authorization.substring(7).strip().getBytes(StandardCharsets.UTF_8));
  }

  /** The token itself (to print or hand to a client). */
  public String value() {
    return new String(token, StandardCharsets.UTF_8);
  }
}
