package org.rlhf4j.demo.tools;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The tools demo's tool: {@code menu(restaurant, dish)} answers the dish's price at the
 * restaurant from {@link Menu}, as a number word ("12"). Configured as {@code agent.tools:
 * [{class: org.rlhf4j.demo.tools.MenuTool}]}. Stateless; thread-safe.
 */
public final class MenuTool implements org.rlhf4j.agent.Tool {
  public static final String NAME = "menu";
  private static final JsonNode PARAMETERS = schema();

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "The price of a dish at a restaurant.";
  }

  @Override
  public JsonNode parameters() {
    return PARAMETERS.deepCopy();
  }

  /** @throws IllegalArgumentException (told to the model) for a missing argument or a name not on the menu */
  @Override
  public String call(JsonNode arguments) {
    return Integer.toString(Menu.price(text(arguments, "restaurant"), text(arguments, "dish")));
  }

  private static String text(JsonNode arguments, String key) {
    JsonNode v = arguments.get(key);
    if (v == null || !v.isTextual()) throw new IllegalArgumentException("menu needs \"" + key + "\", a string");
    return v.textValue();
  }

  private static JsonNode schema() {
    try {
      return new ObjectMapper().readTree("""
          {"type": "object",
           "properties": {"restaurant": {"type": "string", "description": "the restaurant's name"},
                          "dish": {"type": "string", "description": "the dish's name"}},
           "required": ["restaurant", "dish"]}""");
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
