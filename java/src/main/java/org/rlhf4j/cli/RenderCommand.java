package org.rlhf4j.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.rlhf4j.chat.AssistantSpans;
import org.rlhf4j.chat.AssistantSpans.Rendered;
import org.rlhf4j.chat.AssistantSpans.Span;
import org.rlhf4j.chat.ChatTemplate;
import org.rlhf4j.chat.ChatTemplateException;
import org.rlhf4j.chat.Conversation;
import org.rlhf4j.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Renders conversations through a model's chat template and shows, per line, the text, the token
 * ids and which tokens are the assistant's: the tool to reach for when a template misbehaves.
 * Everything is checked before anything is printed, so an error prints nothing else.
 */
@Command(name = "render", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Render conversations ({\"messages\": [...]} per line) with a model's chat template;",
        "print the text, the token ids and the assistant's tokens."})
final class RenderCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Spec CommandSpec spec;

  @Option(names = "--model", required = true, paramLabel = "DIR",
      description = "Model directory (its tokenizer and chat template), or a run directory.")
  Path model;

  @Option(names = "--messages", required = true, paramLabel = "FILE.jsonl",
      description = "One conversation a line: {\"messages\": [{\"role\": ..., \"content\": ...}, ...]}.")
  Path messages;

  @Option(names = "--add-generation-prompt", description = "End with the template's generation prompt.")
  boolean addGenerationPrompt;

  @Option(names = "--tools", paramLabel = "FILE.json", description = "A JSON list of tool (function) specs.")
  Path tools;

  @Option(names = "--set", paramLabel = "KEY=VALUE",
      description = "A template variable, e.g. enable_thinking=false (JSON values; else a string).")
  List<String> sets = new ArrayList<>();

  @Option(names = "--chat-template", paramLabel = "FILE", description = "Use this Jinja template instead of the model's.")
  Path chatTemplate;

  @Option(names = "--json", description = "Print one JSON object a line: text, ids, assistant_spans.")
  boolean json;

  @Override
  public Integer call() throws IOException {
    // The data is checked first: a bad line is reported before the tokenizer is loaded.
    List<String> lines = lines(messages);
    List<Conversation> conversations = new ArrayList<>();
    List<String> where = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).isBlank()) continue;
      where.add(messages + ":" + (i + 1));
      JsonNode row;
      try {
        row = JSON.readTree(lines.get(i));
      } catch (JsonProcessingException e) {
        throw new UsageException(where.getLast() + ": not JSON: " + e.getOriginalMessage());
      }
      conversations.add(Conversation.parse(row.get("messages"), where.getLast() + ": messages"));
    }
    List<Object> toolSpecs = tools == null ? null : toolList();
    Map<String, Object> kwargs = kwargs();
    Path dir = Files.isRegularFile(model.resolve("tokenizer.json"))
        || Files.isRegularFile(model.resolve("tokenizer_config.json")) ? model : Inputs.modelDir("--model", model);
    Tokenizer tokenizer = Inputs.tokenizer("--model", dir);
    ChatTemplate template = template(dir);
    List<Rendered> rendered = new ArrayList<>();
    for (int i = 0; i < conversations.size(); i++) {
      try {
        rendered.add(AssistantSpans.render(template, conversations.get(i), addGenerationPrompt, toolSpecs, kwargs, tokenizer));
      } catch (ChatTemplateException e) {
        throw new UsageException(where.get(i) + ": " + e.getMessage());
      }
    }
    PrintWriter out = spec.commandLine().getOut();
    for (int i = 0; i < rendered.size(); i++) print(out, i + 1, rendered.get(i), tokenizer);
    return Main.OK;
  }

  private ChatTemplate template(Path dir) throws IOException {
    try {
      if (chatTemplate != null) return ChatTemplate.fromFile(chatTemplate, dir);
      return ChatTemplate.require(dir);
    } catch (ChatTemplateException | IOException e) {
      throw new UsageException((chatTemplate != null ? "--chat-template: " : "--model: ") + e.getMessage());
    }
  }

  private void print(PrintWriter out, int n, Rendered r, Tokenizer tokenizer) {
    if (json) {
      ObjectNode o = JSON.createObjectNode();
      o.put("text", r.text());
      o.set("ids", JSON.valueToTree(r.ids()));
      var spans = o.putArray("assistant_spans");
      for (Span s : r.spans()) spans.addArray().add(s.tokenStart()).add(s.tokenEnd());
      out.println(o);
      return;
    }
    out.printf("=== conversation %d: %d tokens, %d assistant%n", n, r.ids().length, r.spans().size());
    out.println(r.text());
    out.println("--- ids");
    out.println(Arrays.toString(r.ids()));
    out.println("--- assistant tokens [start, end)");
    for (Span s : r.spans()) {
      String text = tokenizer.decode(Arrays.copyOfRange(r.ids(), s.tokenStart(), s.tokenEnd()), false);
      out.printf("message %d: [%d, %d) %s%n", s.message(), s.tokenStart(), s.tokenEnd(), JSON.valueToTree(text));
    }
  }

  private List<Object> toolList() throws IOException {
    JsonNode node;
    try {
      node = JSON.readTree(new String(Files.readAllBytes(tools), StandardCharsets.UTF_8));
    } catch (JsonProcessingException e) {
      throw new UsageException("--tools: " + tools + ": not JSON: " + e.getOriginalMessage());
    }
    if (node == null || !node.isArray()) throw new UsageException("--tools: " + tools + ": expected a JSON list of tool specs");
    List<Object> specs = new ArrayList<>();
    for (JsonNode t : node) specs.add(JSON.convertValue(t, Object.class));
    return specs;
  }

  private Map<String, Object> kwargs() {
    Map<String, Object> kwargs = new LinkedHashMap<>();
    for (String set : sets) {
      int eq = set.indexOf('=');
      if (eq <= 0) throw new UsageException("--set " + set + ": expected KEY=VALUE");
      String value = set.substring(eq + 1);
      Object parsed;
      try {
        parsed = JSON.convertValue(JSON.readTree(value), Object.class);
      } catch (JsonProcessingException e) {
        parsed = value;
      }
      kwargs.put(set.substring(0, eq), parsed);
    }
    return kwargs;
  }

  /** The file's lines, refusing invalid UTF-8 with the line it is on. */
  private static List<String> lines(Path file) throws IOException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new UsageException("--messages: cannot read " + file + ": " + e.getMessage());
    }
    List<String> lines = new ArrayList<>();
    var decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    int start = 0;
    for (int k = 0; k <= bytes.length; k++) {
      if (k < bytes.length && bytes[k] != '\n') continue;
      try {
        lines.add(decoder.decode(java.nio.ByteBuffer.wrap(bytes, start, k - start)).toString());
      } catch (CharacterCodingException e) {
        throw new UsageException(file + ":" + (lines.size() + 1) + ": invalid UTF-8");
      }
      start = k + 1;
    }
    return lines;
  }
}
