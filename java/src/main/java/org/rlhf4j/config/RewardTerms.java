package org.rlhf4j.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The value of {@code reward.functions}: weighted reward functions whose sum is the score, a
 * list of mappings {@code {name: exact_match|regex|valid_json|length_penalty, weight, ...}} or
 * {@code {class: com.acme.MyReward, weight}}. Immutable.
 */
public final class RewardTerms {
  private static final Set<String> KEYS = Set.of("name", "class", "weight", "label", "field", "pattern", "max_words");
  private static final Set<String> BUILT_IN = Set.of("exact_match", "regex", "valid_json", "length_penalty");

  /**
   * One weighted function.
   *
   * @param label its name in metrics and dumps (reward/LABEL): label, else name, else the class's simple name
   * @param name a built-in function, or null when className is given
   * @param className a Java {@code RewardFunction}, or null for a built-in
   * @param field the JSONL field holding the reference answer (exact_match, regex)
   * @param pattern regex: extracts the answer from the response (its first group, else the whole match)
   * @param maxWords length_penalty: words allowed before each further word costs 1
   */
  public record Term(String label, String name, String className, double weight, String field, String pattern,
      int maxWords) {}

  private final List<Term> terms;

  public RewardTerms(List<Term> terms) {
    this.terms = List.copyOf(terms);
  }

  public List<Term> terms() {
    return terms;
  }

  /** Reads a list of mappings; a clear ConfigException naming key and entry otherwise. */
  static RewardTerms fromNode(JsonNode node, String key, String origin) {
    if (!node.isArray() || node.isEmpty()) {
      throw new ConfigException(key + " in " + origin + " must be a non-empty list of {name|class, weight}, got "
          + ConfigValues.show(node));
    }
    List<Term> out = new ArrayList<>();
    Set<String> labels = new HashSet<>();
    for (int i = 0; i < node.size(); i++) {
      JsonNode e = node.get(i);
      String at = key + "[" + i + "] in " + origin;
      if (!e.isObject()) throw new ConfigException(at + " must be a mapping {name|class, weight}");
      for (Iterator<String> it = e.fieldNames(); it.hasNext(); ) {
        String k = it.next();
        if (!KEYS.contains(k)) {
          throw new ConfigException(at + ": unknown key '" + k + "'; keys: " + String.join(", ", KEYS.stream().sorted().toList()));
        }
      }
      String name = text(e, "name", at);
      String className = text(e, "class", at);
      if ((name == null) == (className == null)) throw new ConfigException(at + " needs exactly one of name and class");
      if (name != null && !BUILT_IN.contains(name)) {
        throw new ConfigException(at + ": unknown reward function '" + name + "'; built-in: "
            + String.join(", ", BUILT_IN.stream().sorted().toList()) + " (or give class: a Java RewardFunction)");
      }
      double weight = 1.0;
      if (e.has("weight")) {
        if (!e.get("weight").isNumber() || !Double.isFinite(e.get("weight").doubleValue())) {
          throw new ConfigException(at + ": weight must be a finite number, got " + ConfigValues.show(e.get("weight")));
        }
        weight = e.get("weight").doubleValue();
      }
      String field = text(e, "field", at);
      String pattern = text(e, "pattern", at);
      if ("regex".equals(name)) {
        if (pattern == null) throw new ConfigException(at + ": the regex function needs pattern");
        try {
          Pattern.compile(pattern);
        } catch (PatternSyntaxException bad) {
          throw new ConfigException(at + ": pattern is not a regular expression: " + bad.getDescription());
        }
      } else if (pattern != null) {
        throw new ConfigException(at + ": pattern belongs to the regex function only");
      }
      int maxWords = 0;
      if (e.has("max_words")) {
        if (!"length_penalty".equals(name) || !e.get("max_words").canConvertToInt() || e.get("max_words").intValue() < 0) {
          throw new ConfigException(at + ": max_words is an integer >= 0 of the length_penalty function");
        }
        maxWords = e.get("max_words").intValue();
      }
      String label = text(e, "label", at);
      if (label == null) label = name != null ? name : simpleName(className).toLowerCase(Locale.ROOT);
      if (!labels.add(label)) throw new ConfigException(at + ": a second function labelled '" + label + "'; give it a label");
      out.add(new Term(label, name, className, weight, field == null ? "answer" : field, pattern, maxWords));
    }
    return new RewardTerms(out);
  }

  JsonNode toNode() {
    ArrayNode list = JsonNodeFactory.instance.arrayNode();
    for (Term t : terms) {
      ObjectNode o = list.addObject();
      if (t.name() != null) o.put("name", t.name());
      else o.put("class", t.className());
      o.put("weight", t.weight());
      o.put("label", t.label());
      if (t.name() != null && !t.name().equals("valid_json") && !t.name().equals("length_penalty")) o.put("field", t.field());
      if (t.pattern() != null) o.put("pattern", t.pattern());
      if ("length_penalty".equals(t.name())) o.put("max_words", t.maxWords());
    }
    return list;
  }

  private static String text(JsonNode e, String k, String at) {
    if (!e.has(k)) return null;
    if (!e.get(k).isTextual() || e.get(k).textValue().isBlank()) {
      throw new ConfigException(at + ": " + k + " must be a non-empty string, got " + ConfigValues.show(e.get(k)));
    }
    return e.get(k).textValue();
  }

  private static String simpleName(String className) {
    return className.substring(Math.max(className.lastIndexOf('.'), className.lastIndexOf('$')) + 1);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RewardTerms r && r.terms.equals(terms);
  }

  @Override
  public int hashCode() {
    return terms.hashCode();
  }

  @Override
  public String toString() {
    return terms.toString();
  }
}
