package org.rlhf4j.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * GPT-2's reversible map between bytes and printable characters: printable Latin-1 bytes stand
 * for themselves, the other 68 bytes (controls, space, soft hyphen...) take the characters from
 * U+0100 on, in byte order. BPE then works on strings with no whitespace or control characters.
 */
final class ByteLevel {
  private static final char[] BYTE_TO_CHAR = new char[256];
  /** Indexed by character; -1 where a character stands for no byte. */
  private static final int[] CHAR_TO_BYTE = new int[256 + 68];

  static {
    Arrays.fill(CHAR_TO_BYTE, -1);
    int next = 256;
    for (int b = 0; b < 256; b++) {
      boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      char c = printable ? (char) b : (char) next++;
      BYTE_TO_CHAR[b] = c;
      CHAR_TO_BYTE[c] = b;
    }
  }

  private ByteLevel() {}

  /** The character that stands for byte b (0 to 255). */
  static char charOf(int b) {
    return BYTE_TO_CHAR[b];
  }

  /** The characters of text's UTF-8 bytes. */
  static String encode(String text) {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    char[] chars = new char[bytes.length];
    for (int i = 0; i < bytes.length; i++) chars[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
    return new String(chars);
  }

  /**
   * Appends the bytes a token stands for. Characters outside the table (only in tokens that were
   * not made by {@link #encode}, such as added special tokens) are written as their UTF-8.
   */
  static void appendBytes(String token, ByteArrayOutputStream out) {
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      int b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
      if (b >= 0) {
        out.write(b);
      } else {
        int end = Character.isHighSurrogate(c) && i + 1 < token.length() ? i + 2 : i + 1;
        out.writeBytes(token.substring(i, end).getBytes(StandardCharsets.UTF_8));
        i = end - 1;
      }
    }
  }
}
