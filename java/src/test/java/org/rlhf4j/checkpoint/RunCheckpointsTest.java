package org.rlhf4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ModelConfig;

class RunCheckpointsTest {
  @TempDir Path run;

  private static Model model;

  @BeforeAll
  static void createModel() {
    model = Model.create(ModelConfig.gpt2(32, 8, 8, 1, 2), "cpu");
  }

  @AfterAll
  static void closeModel() {
    model.close();
  }

  private static CheckpointWriter at(long iteration) {
    return new CheckpointWriter().model(model).trainerState(JsonNodeFactory.instance.objectNode().put("iteration", iteration));
  }

  private List<String> names(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void keepsTheLastKCompleteCheckpoints() throws IOException {
    RunCheckpoints checkpoints = new RunCheckpoints(run, 2);
    assertEquals(Optional.empty(), checkpoints.latest());
    for (long i = 10; i <= 40; i += 10) checkpoints.save(i, at(i));
    assertEquals(List.of("iter-000030", "iter-000040"), names(run.resolve("checkpoints")));
    Path latest = checkpoints.latest().orElseThrow();
    assertEquals(run.resolve("checkpoints/iter-000040"), latest);
    assertEquals(40, Checkpoint.open(latest).trainerState().orElseThrow().get("iteration").asLong());
  }

  @Test
  void ignoresAndRemovesPartialCheckpoints() throws IOException {
    RunCheckpoints checkpoints = new RunCheckpoints(run, 3);
    checkpoints.save(5, at(5));
    Path root = checkpoints.root();
    // A save that died while writing, and one whose marker never landed.
    Files.createDirectories(root.resolve(".tmp-iter-000006-0badc0de")).resolve("model.safetensors").toFile().createNewFile();
    Path unmarked = Files.createDirectories(root.resolve("iter-000007"));
    Files.copy(root.resolve("iter-000005/config.json"), unmarked.resolve("config.json"));
    Files.writeString(root.resolve("notes.txt"), "the user's own file");

    assertEquals(root.resolve("iter-000005"), checkpoints.latest().orElseThrow());
    assertEquals(List.of(root.resolve("iter-000005")), checkpoints.complete());
    assertEquals(List.of(root.resolve(".tmp-iter-000006-0badc0de"), unmarked), checkpoints.removeIncomplete());
    assertEquals(List.of("iter-000005", "notes.txt"), names(root));

    Files.createDirectories(root.resolve(".tmp-iter-000008-12345678"));
    checkpoints.save(8, at(8));
    assertEquals(List.of("iter-000005", "iter-000008", "notes.txt"), names(root));
  }

  @Test
  void savingAnIterationAgainReplacesIt() throws IOException {
    RunCheckpoints checkpoints = new RunCheckpoints(run, 1);
    checkpoints.save(3, at(3));
    checkpoints.save(3, new CheckpointWriter().model(model).trainerState(JsonNodeFactory.instance.objectNode().put("again", true)));
    assertEquals(List.of("iter-000003"), names(checkpoints.root()));
    assertTrue(Checkpoint.open(checkpoints.root().resolve("iter-000003")).trainerState().orElseThrow().get("again").asBoolean());
  }

  @Test
  void aFailedSaveLeavesNoTraceAndKeepsTheOldCheckpoints() throws IOException {
    RunCheckpoints checkpoints = new RunCheckpoints(run, 1);
    checkpoints.save(1, at(1));
    CheckpointWriter failing = at(2).file("tokenizer.json", path -> {
      throw new IOException("disk full");
    });
    CheckpointException e = assertThrows(CheckpointException.class, () -> checkpoints.save(2, failing));
    assertTrue(e.getMessage().contains("iter-000002") && e.getMessage().contains("disk full"), e.getMessage());
    assertEquals(List.of("iter-000001"), names(checkpoints.root()));
    assertFalse(Checkpoint.isComplete(checkpoints.root().resolve("iter-000002")));
  }

  @Test
  void restoresACheckpointLeftAsideByACrashDuringReplacement() throws IOException {
    RunCheckpoints checkpoints = new RunCheckpoints(run, 2);
    checkpoints.save(4, at(4));
    Path root = checkpoints.root();
    // The state between the two renames of a replacing save: the old version moved aside,
    // the new one complete but not yet in place.
    Files.move(root.resolve("iter-000004"), root.resolve(".tmp-iter-000004-old-0000abcd"));
    new CheckpointWriter().model(model).trainerState(JsonNodeFactory.instance.objectNode().put("new", true))
        .writeTo(root.resolve("staged"), false);
    Files.move(root.resolve("staged"), root.resolve(".tmp-iter-000004-1234abcd"));
    assertEquals(Optional.empty(), checkpoints.latest());

    assertEquals(List.of(root.resolve(".tmp-iter-000004-old-0000abcd")), checkpoints.removeIncomplete());
    assertEquals(List.of("iter-000004"), names(root));
    assertTrue(Checkpoint.open(root.resolve("iter-000004")).trainerState().orElseThrow().get("new").asBoolean());
  }

  @Test
  void rejectsAKeepCountBelowOne() {
    assertThrows(IllegalArgumentException.class, () -> new RunCheckpoints(run, 0));
  }
}
