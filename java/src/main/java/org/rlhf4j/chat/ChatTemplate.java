package org.rlhf4j.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A model's chat template, rendered as {@code transformers}' {@code apply_chat_template} renders
 * it (see {@link JinjaEngine}): the variables are {@code messages}, {@code tools}, {@code
 * documents}, {@code add_generation_prompt}, the tokenizer's special tokens ({@code bos_token},
 * {@code eos_token}, ... as its special_tokens_map has them) and any template kwargs, which win.
 * Immutable and thread-safe.
 */
public final class ChatTemplate {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> SPECIAL_TOKENS = List.of("bos_token", "eos_token",
      "unk_token", "sep_token", "pad_token", "cls_token", "mask_token");

  private final String source;
  private final String origin;
  private final Map<String, Object> specialTokens;
  /** {@link EndOfTurn#text}'s answer, found once (every SFT example's assistant spans ask for it). */
  private volatile String endOfTurn;

  private ChatTemplate(String source, String origin, Map<String, Object> specialTokens) {
    this.source = Jinja2Syntax.rewrite(source, origin);
    this.origin = origin;
    this.specialTokens = specialTokens;
  }

  /** A template source with the given special tokens (name to text). */
  public static ChatTemplate of(String source, String origin, Map<String, Object> specialTokens) {
    return new ChatTemplate(source, origin, Map.copyOf(specialTokens));
  }

  /**
   * The chat template of a model directory: {@code chat_template.jinja}, else {@code
   * tokenizer_config.json}'s {@code chat_template} (a string, or a list of {@code {name,
   * template}} whose {@code default} is taken, as transformers does); empty when it has none.
   */
  public static Optional<ChatTemplate> load(Path modelDir) throws IOException {
    Map<String, Object> tokens = specialTokens(modelDir);
    Path jinja = modelDir.resolve("chat_template.jinja");
    if (Files.isRegularFile(jinja)) return Optional.of(new ChatTemplate(Files.readString(jinja), jinja.toString(), tokens));
    Path config = modelDir.resolve("tokenizer_config.json");
    if (!Files.isRegularFile(config)) return Optional.empty();
    JsonNode template = readJson(config).path("chat_template");
    if (template.isTextual()) return Optional.of(new ChatTemplate(template.textValue(), config.toString(), tokens));
    if (template.isArray()) {
      for (JsonNode named : template) {
        if ("default".equals(named.path("name").asText()) && named.path("template").isTextual()) {
          return Optional.of(new ChatTemplate(named.get("template").textValue(),
              config + " (chat_template \"default\")", tokens));
        }
      }
      throw new IOException(config + ": chat_template is a list without a \"default\" template");
    }
    if (!template.isMissingNode() && !template.isNull()) {
      throw new IOException(config + ": chat_template must be a string or a list of {name, template}");
    }
    return Optional.empty();
  }

  /** {@link #load}, or a clear error naming the directory and the way out. */
  public static ChatTemplate require(Path modelDir) throws IOException {
    return load(modelDir).orElseThrow(() -> new ChatTemplateException(modelDir
        + " has no chat template (no chat_template.jinja, no chat_template in"
        + " tokenizer_config.json): conversational data needs one; pass --chat-template FILE"));
  }

  /** A template file given by the user, with the special tokens of the model directory. */
  public static ChatTemplate fromFile(Path file, Path modelDir) throws IOException {
    return new ChatTemplate(Files.readString(file), file.toString(), specialTokens(modelDir));
  }

  public String origin() {
    return origin;
  }

  /** The special tokens passed to the template (bos_token, eos_token, ...). */
  public Map<String, Object> specialTokens() {
    return specialTokens;
  }

  /** The template's end-of-turn word ({@link EndOfTurn#text}), rendered for once and kept. */
  String endOfTurn() {
    String e = endOfTurn;
    if (e == null) endOfTurn = e = EndOfTurn.probe(this);
    return e;
  }

  /**
   * The rendered conversation.
   *
   * @param messages each a map with role, content and optional fields (tool_calls, ...)
   * @param tools JSON-schema function specs, or null
   * @param kwargs template kwargs (enable_thinking, ...)
   * @throws ChatTemplateException when the template raises or cannot be rendered as Jinja2 would
   */
  public String render(List<Map<String, Object>> messages, boolean addGenerationPrompt,
      List<Object> tools, Map<String, Object> kwargs) {
    Map<String, Object> vars = new LinkedHashMap<>(specialTokens);
    vars.putAll(kwargs);
    vars.put("messages", messages);
    vars.put("tools", tools);
    vars.put("documents", null);
    vars.put("add_generation_prompt", addGenerationPrompt);
    vars.replaceAll((name, value) -> PyNone.wrap(value));
    return JinjaEngine.render(source, vars, origin);
  }

  /** {@link #render(List, boolean, List, Map)} of a conversation. */
  public String render(Conversation conversation, boolean addGenerationPrompt, List<Object> tools,
      Map<String, Object> kwargs) {
    return render(conversation.messages(), addGenerationPrompt, tools, kwargs);
  }

  /**
   * The special tokens as transformers' special_tokens_map gives them to templates: those
   * set in tokenizer_config.json or special_tokens_map.json (text, or an AddedToken's content).
   */
  private static Map<String, Object> specialTokens(Path dir) throws IOException {
    Map<String, Object> tokens = new LinkedHashMap<>();
    for (String file : List.of("special_tokens_map.json", "tokenizer_config.json")) {
      Path path = dir.resolve(file);
      if (!Files.isRegularFile(path)) continue;
      JsonNode json = readJson(path);
      for (String name : SPECIAL_TOKENS) {
        String text = tokenText(json.path(name));
        if (text != null) tokens.put(name, text);
      }
      JsonNode extra = json.path("additional_special_tokens");
      if (extra.isArray()) {
        List<String> texts = new ArrayList<>();
        for (JsonNode t : extra) if (tokenText(t) != null) texts.add(tokenText(t));
        tokens.put("additional_special_tokens", texts);
      }
    }
    return tokens;
  }

  private static String tokenText(JsonNode node) {
    if (node.isTextual()) return node.textValue();
    if (node.isObject() && node.path("content").isTextual()) return node.get("content").textValue();
    return null;
  }

  private static JsonNode readJson(Path path) throws IOException {
    try {
      return JSON.readTree(path.toFile());
    } catch (IOException e) {
      throw new IOException(path + ": not valid JSON: " + e.getMessage(), e);
    }
  }
}
