package org.rlhf4j.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** A model's memory options through the ABI: chunked logits and checkpointing change no result. */
class MemoryOptionsTest {
  private static final TokenBatch BATCH = TokenBatch.rightPadded(
      List.of(new int[] {5, 9, 2, 17, 30, 4, 11}, new int[] {7, 1, 40, 3}), 0);

  @Test
  void newModelsChunkTheirLogitsAndOptionsRoundTrip() {
    try (Model m = Model.create(EngineTest.tiny(), "cpu")) {
      assertEquals(MemoryOptions.defaults(), m.memoryOptions());
      m.setMemoryOptions(new MemoryOptions(3, true));
      assertEquals(new MemoryOptions(3, true), m.memoryOptions());
    }
    assertThrows(IllegalArgumentException.class, () -> new MemoryOptions(-1, false));
  }

  @Test
  void attentionChunkReachesTheModelAndScoresAreThoseOfTheWholeMatrix() {
    try (Model m = Model.create(EngineTest.tiny(), "cpu")) {
      assertEquals(MemoryOptions.DEFAULT_ATTENTION_CHUNK, m.memoryOptions().attentionChunk());
      m.setMemoryOptions(new MemoryOptions(256, false, 0));
      assertEquals(new MemoryOptions(256, false, 0), m.memoryOptions());
      Model.Scores whole = m.score(BATCH, 0.8, true, false);
      m.setMemoryOptions(new MemoryOptions(256, false, 2));  // 7 positions: chunks of 2, 2, 2, 1
      assertEquals(2, m.memoryOptions().attentionChunk());
      Model.Scores chunked = m.score(BATCH, 0.8, true, false);
      assertArrayEquals(whole.logprobs(), chunked.logprobs(), 1e-5f);
      assertArrayEquals(whole.entropy(), chunked.entropy(), 1e-5f);
    }
    assertEquals("attention_chunk must be >= 0 (0 = unchunked), got -2",
        assertThrows(IllegalArgumentException.class, () -> new MemoryOptions(256, false, -2)).getMessage());
  }

  @Test
  void scoresAndLossAreThoseOfTheFullLogitsPath() {
    try (Model m = Model.create(EngineTest.tiny(), "cpu")) {
      m.setMemoryOptions(new MemoryOptions(0, false));
      Model.Scores full = m.score(BATCH, 0.8, true, false);
      double fullLoss = m.lmLoss(BATCH, BATCH.mask(), 1.0, false).loss();
      m.setMemoryOptions(new MemoryOptions(3, true));
      Model.Scores chunked = m.score(BATCH, 0.8, true, false);
      assertArrayEquals(full.logprobs(), chunked.logprobs(), 1e-5f);
      assertArrayEquals(full.entropy(), chunked.entropy(), 1e-5f);
      assertEquals(fullLoss, m.lmLoss(BATCH, BATCH.mask(), 1.0, true).loss(), 1e-5);
    }
  }
}
