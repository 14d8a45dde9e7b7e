package org.rlhf4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.config.DataSection.Format;

class PromptFileTest {
  @TempDir Path dir;

  private String error(String name, String content, Format format) throws IOException {
    Path p = dir.resolve(name);
    Files.writeString(p, content);
    return assertThrows(DataException.class, () -> PromptFile.read(p, format, "prompt")).getMessage()
        .replace(p.toString(), name);
  }

  @Test
  void badJsonlLinesAreReportedWithFileAndLine() throws IOException {
    assertTrue(error("p.jsonl", "{\"prompt\": \"a\"}\n{\"prompt\": \"b\"\n", Format.AUTO)
        .startsWith("p.jsonl:2: invalid JSON: "));
    assertEquals("p.jsonl:2: missing field 'prompt'", error("p.jsonl", "{\"prompt\": \"a\"}\n{\"text\": \"b\"}\n",
        Format.AUTO));
    assertEquals("p.jsonl:1: field 'prompt' must be a string, got a number", error("p.jsonl", "{\"prompt\": 3}\n",
        Format.AUTO));
    assertEquals("p.jsonl:1: expected a JSON object, got an array", error("p.jsonl", "[\"a\"]\n", Format.AUTO));
    assertEquals("p.jsonl:1: field 'prompt' is empty", error("p.jsonl", "{\"prompt\": \" \"}\n", Format.AUTO));
    assertTrue(error("p.jsonl", "{\"prompt\": \"a\"} {\"prompt\": \"b\"}\n", Format.AUTO)
        .startsWith("p.jsonl:1: invalid JSON: "));
  }

  @Test
  void emptyLinesAreErrorsExceptAtTheEnd() throws IOException {
    assertEquals("p.txt:2: empty line (allowed only at the end of the file)", error("p.txt", "a\n\nb\n", Format.TEXT));
    assertEquals("p.jsonl:2: empty line (allowed only at the end of the file)",
        error("p.jsonl", "{\"prompt\": \"a\"}\n  \n{\"prompt\": \"b\"}\n", Format.JSONL));
    Path p = dir.resolve("ok.txt");
    Files.writeString(p, "a\r\nb\r\n\r\n\n");
    assertEquals(List.of(new PromptFile.Line(p + ":1", 1, "a", Map.of()), new PromptFile.Line(p + ":2", 2, "b", Map.of())),
        PromptFile.read(p, Format.AUTO, "prompt"));
    assertEquals("e.txt: no prompts (the file is empty)", error("e.txt", "\n\n", Format.AUTO));
  }

  @Test
  void invalidUtf8AndMissingFilesAreNamed() throws IOException {
    Path p = dir.resolve("bin.txt");
    Files.write(p, new byte[] {'o', 'k', '\n', 'b', (byte) 0xC3, '(', '\n'});
    assertEquals(p + ":2: not valid UTF-8",
        assertThrows(DataException.class, () -> PromptFile.read(p, Format.TEXT, "prompt")).getMessage());
    Path missing = dir.resolve("none.jsonl");
    assertEquals("prompt file not found: " + missing,
        assertThrows(DataException.class, () -> PromptFile.read(missing, Format.AUTO, "prompt")).getMessage());
  }
}
