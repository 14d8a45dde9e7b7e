package org.rlhf4j.ppo;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.rlhf4j.config.RewardTerms.Term;

/** The reward functions that reward.functions names: verifiable checks of a response. */
final class BuiltInRewards {
  private static final ObjectMapper JSON = new ObjectMapper();

  private BuiltInRewards() {}

  static RewardFunction of(Term t) {
    return switch (t.name()) {
      case "exact_match" -> (prompt, response, fields) -> exactMatch(response.strip(), answer(fields, t.field()));
      case "regex" -> regex(Pattern.compile(t.pattern()), t.field());
      case "valid_json" -> (prompt, response, fields) -> validJson(response) ? 1.0 : 0.0;
      case "length_penalty" -> (prompt, response, fields) -> -Math.max(0, words(response) - t.maxWords());
      default -> throw new IllegalArgumentException("reward.functions: unknown built-in '" + t.name() + "'");
    };
  }

  /** 1 when the response, trimmed, is the prompt's answer field, trimmed; else 0. */
  private static double exactMatch(String candidate, String answer) {
    return candidate.equals(answer.strip()) ? 1.0 : 0.0;
  }

  /** The pattern's first group (or whole match) found in the response, compared with the answer field. */
  private static RewardFunction regex(Pattern pattern, String field) {
    return (prompt, response, fields) -> {
      Matcher m = pattern.matcher(response);
      if (!m.find()) return 0.0;
      String found = m.groupCount() >= 1 && m.group(1) != null ? m.group(1) : m.group();
      return exactMatch(found.strip(), answer(fields, field));
    };
  }

  private static String answer(Map<String, Object> fields, String field) {
    Object v = fields.get(field);
    if (v == null) {
      throw new IllegalArgumentException("reward.functions: the prompt has no '" + field + "' field to compare with "
          + "(fields: " + fields.keySet() + ")");
    }
    return String.valueOf(v);
  }

  private static boolean validJson(String response) {
    String s = response.strip();
    if (s.isEmpty()) return false;
    try (var parser = JSON.createParser(s)) {
      JSON.readTree(parser);
      return parser.nextToken() == null;
    } catch (JsonProcessingException e) {
      return false;
    } catch (java.io.IOException e) {
      return false;
    }
  }

  private static int words(String response) {
    String s = response.strip();
    return s.isEmpty() ? 0 : s.split("\\s+").length;
  }
}
