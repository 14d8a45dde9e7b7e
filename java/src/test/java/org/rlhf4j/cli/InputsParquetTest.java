package org.rlhf4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.testing.ParquetFiles;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.tokenizer.WordTokenizer;

/** generate and eval read --prompts from Parquet as from JSONL. */
class InputsParquetTest {
  @TempDir Path dir;
  private final WordTokenizer tok = TinyCheckpoints.tokenizer();

  @Test
  void parquetPromptsEqualJsonlPromptsAndErrorsNameTheRow() throws IOException {
    Path json = Files.write(dir.resolve("p.jsonl"), List.of("{\"prompt\": \"the food was\", \"id\": 1}",
        "{\"prompt\": \"it is very\", \"id\": 2}"));
    Path parquet = ParquetFiles.write(dir.resolve("p.parquet"),
        "message p { required binary prompt (STRING); required int32 id; }",
        List.of(Map.of("prompt", "the food was", "id", 1), Map.of("prompt", "it is very", "id", 2)));
    List<Inputs.PromptInput> a = Inputs.prompts(json, "prompt", dir, tok, 32, 8);
    List<Inputs.PromptInput> b = Inputs.prompts(parquet, "prompt", dir, tok, 32, 8);
    assertEquals(2, b.size());
    for (int i = 0; i < 2; i++) {
      assertEquals(a.get(i).line(), b.get(i).line());
      assertEquals(a.get(i).text(), b.get(i).text());
      assertArrayEquals(a.get(i).tokens(), b.get(i).tokens());
      assertEquals(a.get(i).fields(), b.get(i).fields());
    }
    assertEquals(parquet + ": row 1: the prompt is 4 tokens; with --max-new-tokens 8 it needs 12 positions but the "
        + "model's context is 10", assertThrows(UsageException.class,
        () -> Inputs.prompts(parquet, "prompt", dir, tok, 10, 8)).getMessage());
  }
}
