package org.rlhf4j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading a config from a parsed tree (a job submitted to the service) and listing its paths. */
class ConfigTreeTest {
  @TempDir Path dir;

  @Test
  void aTreeLoadsAsTheSameFileWouldWithTheSameMessages() throws Exception {
    String json = "{\"model\": {\"path\": \"m\"}, \"data\": {\"prompts\": \"p.jsonl\"}, "
        + "\"reward\": {\"kind\": \"function\", \"function\": \"x.Y\"}, \"ppo\": {\"kl_coef\": 0.3}}";
    Path file = Files.writeString(dir.resolve("c.json"), json);
    JsonNode tree = new ObjectMapper().readTree(json);
    var loader = PpoRunConfig.loader();
    PpoRunConfig fromTree = loader.load(tree, "config", List.of("run.out=r"));
    assertEquals(loader.load(file, List.of("run.out=r")), fromTree);
    assertEquals(Map.of("run.out", Path.of("r"), "model.path", Path.of("m"), "data.prompts", Path.of("p.jsonl")),
        loader.paths(fromTree));

    JsonNode typo = new ObjectMapper().readTree("{\"ppo\": {\"kl_coeff\": 0.3}}");
    Path typoFile = Files.writeString(dir.resolve("typo.yaml"), "{\"ppo\": {\"kl_coeff\": 0.3}}");
    String fromFile = assertThrows(ConfigException.class, () -> loader.load(typoFile, List.of())).getMessage();
    assertEquals(fromFile.replace(typoFile.toString(), "config"), assertThrows(ConfigException.class, () -> loader.load(typo, "config", List.of()))
        .getMessage());
    String notMapping = assertThrows(ConfigException.class,
        () -> loader.load(new ObjectMapper().readTree("[1]"), "config", List.of())).getMessage();
    assertTrue(notMapping.startsWith("config: expected a mapping"), notMapping);
  }
}
