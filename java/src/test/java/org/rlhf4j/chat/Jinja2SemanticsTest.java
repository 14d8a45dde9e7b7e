package org.rlhf4j.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Jinja2 constructs chat templates use, each rendered by rlhf4j and by Python's jinja2 under
 * transformers' setup: equal text, or, where Jinjava cannot match Jinja2, a one-line refusal
 * naming the construct, never a different text.
 */
class Jinja2SemanticsTest {
  static final List<Map<String, Object>> MESSAGES = List.of(
      Map.of("role", "system", "content", " sys \u0001\u001b[0m\\u0041 "),
      Map.of("role", "user", "content", "a</think>b"),
      assistant());

  /** An assistant message with a dict field and a JSON null field. */
  private static Map<String, Object> assistant() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("role", "assistant");
    m.put("content", "x");
    m.put("meta", new LinkedHashMap<>(Map.of("k", 1)));
    m.put("name", null);
    return m;
  }

  /** Templates whose rendering must equal jinja2's. */
  static final List<String> EQUAL = List.of(
      "{% for m in messages %}{% if loop.index0 == 1 %}{% continue %}{% endif %}{{ m.role }}{% if m.role == 'assistant' %}{% break %}{% endif %}{% endfor %}",
      "{% set ns = namespace(n=messages|length - 1, seen=false) %}{% for m in messages %}{% set ns.n = ns.n - 1 %}{% set ns.seen = true %}{% endfor %}{{ ns.n }} {% if ns.seen %}seen{% endif %}",
      "{% set x = 'outer' %}{% for m in messages %}{% set x = m.role %}{% endfor %}{{ x }}",
      "{% for m in messages[::-1] %}{{ m.role }},{% endfor %}|{{ messages[1:]|length }}|{{ messages[-1].role }}",
      "{{ 1.0 }} {{ 2 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ 'a' ~ 1 }} {{ messages[0].missing }}{{ messages[1].name }}|{{ messages[:2]|length }}",
      "{{ messages[1].content.split('</think>')[-1] }}|{{ messages[0].content.strip() }}|{{ messages[0].content|trim }}|{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}",
      "{% if '</think>' in messages[1].content %}yes{% endif %}{% if messages[0].content is string %}str{% endif %}{% if messages[2].meta is mapping %}map{% endif %}",
      "{% for k, v in messages[2].meta.items() %}{{ k }}={{ v }}{% endfor %}{% for k in messages[2].meta %}{{ k }}{% endfor %}",
      "{{ messages[2].meta|tojson }}|{{ messages|map(attribute='role')|join(',') }}|{{ {'b': [1, 2.5, none, 'é\"'], 'a': true}|tojson(indent=2) }}|{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}",
      "{{ [0.00001, 10000000000000000.0, 0.1, -2.5, 123456789.125, 1e300, 3, 'tab\there', '\u00e9\u2028'] | tojson }}{{ [1.5, 'é'] | tojson(ensure_ascii=true) }}",
      "[{{ '\u00a0\u3000 x\u001f y\u001c \t'|trim }}][{{ '--x-'|trim('-') }}][{{ ' a\u2003b  c '.split()|join('|') }}][{{ ' \u00a0z '.strip() }}]{{ '😀é'|length }}{{ messages|length }}{{ messages[2].meta|count }}",
      "{% if 'role' in messages[0] %}k{% endif %}{% if 'x' in ['x', 'y'] %}l{% endif %}{% if 'tool_calls' not in messages[0] %}n{% endif %}{% if tools is none %}N{% endif %}{{ nope|default('d') }}{{ 'yes' if messages else 'no' }}",
      "{% for m in messages %}{{ loop.index }}/{{ loop.length }}/{{ loop.revindex0 }}{% if not loop.last %},{% endif %}{% endfor %}|{{ (messages|first).role }}{{ (messages|last).role }}|{{ 'a-b'|replace('-', '+')|upper }}|{{ 42|string }}{{ '7'|int + 1 }}",
      "{% if messages[2].name is none %}A{% endif %}{% if messages[2].missing is none %}B{% endif %}{% if messages[2].name == none %}C{% endif %}{% if messages[2].missing != None %}D{% endif %}{% if messages[2].name %}E{% endif %}{{ messages[2].name }}|{{ messages[2].meta.get('zz') }}|{{ [messages[2].name]|tojson }}|{{ messages[2].name|default('dflt') }}{{ messages[2].missing|default('dflt') }}",
      "{{ 'x[::-1] f(a=b - 1) == none }}' }}{# {{ c=d - 1 }} #}{{ \"it's\" ~ '\\'q\\'' }}",
      "{% raw %}{{ x == none }} {% if y %}{% endraw %}|{{ 'after' }}",
      "{% if undefined_thing is defined %}d{% else %}u{% endif %}[{{ undefined_thing }}]{% if enable_thinking is defined and enable_thinking is false %}off{% endif %}",
      "  {%- for m in messages %}\n    {{- m.role }}\n  {% endfor %}\n{% if true %}\n  kept\n{% endif %}",
      "{{ messages|selectattr('role', 'equalto', 'user')|list|length }}{{ messages|rejectattr('role', 'equalto', 'user')|map(attribute='role')|first }}",
      "{% if not messages|length == 3 %}A{% else %}B{% endif %}{% if not undefined_thing is defined %}C{% endif %}{% if not messages[0].role == 'user' and not messages[1].role != 'user' %}D{% endif %}{{ 'y' if not messages|length > 5 else 'n' }}{% if messages[0].role is not none and 'x' not in messages[0].role %}E{% endif %}{% if not (messages|length < 1) or not messages %}F{% endif %}{{ [not messages, 1]|length }}{%- if not messages[2].meta.k == 2 -%} G {%- endif %}",
      "{% if strftime_now is defined %}s{% endif %}{% if raise_exception is defined %}r{% endif %}{% if no_such_function is defined %}n{% endif %}{% if strftime_now('%Y') == strftime_now('%Y') %}c{% endif %}",
      "{% macro show(m, sep='-') %}{{ m.role }}{{ sep }}{% endmacro %}{% for m in messages %}{{ show(m) }}{% endfor %}");

  /** Templates Jinjava would render differently, each with the words its refusal must say. */
  static final String[] REFUSED = {  // template, then the words
      "{{ messages[0].content == ' sys ' }}", "prints a boolean",
      "{{ none }}", "prints none",
      "{{ messages }}", "prints a list",
      "{{ messages[2].meta }}", "prints a dict",
      "{{ messages[1]['content'][0] }}", "cannot be rendered as Jinja2 would",
      "{{ 0.00001 }}", "prints a number",
      "{{ nothing.at.all }}", "an attribute of an undefined value",
      "{{ messages[::2]|length }}", "the slice [::2]",
      "{{ messages[0].content.zfill(3) }}", ".zfill()",
      "{{ messages[0].content|tojson(separators=(',', ':')) }}", "separators=",
      "{{ strftime_now('%G') }}", "%G",
      "{% for m in messages %}{% generation %}{{ m.content }}{% endgeneration %}{% endfor %}", "generation",
      "{% if messages|length > 2 %}{{ raise_exception('too many: ' ~ messages|length) }}{% endif %}",
      "raised an exception: too many: 3",
      "{{ raise_exception('two\\nlines') }}", "raised an exception: two lines"};

  @Test
  void whatJinjavaWouldRenderDifferentlyIsRefusedNamingIt() throws Exception {
    for (int i = 0; i < REFUSED.length; i += 2) {
      String template = REFUSED[i];
      String words = REFUSED[i + 1];
      ChatTemplateException error = assertThrows(ChatTemplateException.class,
          () -> ChatTemplate.of(template, "t.jinja", Map.of()).render(MESSAGES, false, null, Map.of()),
          template);
      assertTrue(error.getMessage().startsWith("chat template t.jinja"), error.getMessage());
      assertTrue(error.getMessage().contains(words), template + ": " + error.getMessage());
      assertEquals(-1, error.getMessage().indexOf('\n'), error.getMessage());
    }
  }

  @Test
  void constructsRenderAsJinja2Does() throws Exception {
    Map<String, Object> variables = new HashMap<>(); // as ChatTemplate.render passes them
    variables.put("messages", MESSAGES);
    variables.put("tools", null);
    variables.put("documents", null);
    variables.put("add_generation_prompt", false);
    List<Object> expected = References.jinja2Each(EQUAL, variables);
    List<String> failures = new ArrayList<>();
    for (int i = 0; i < EQUAL.size(); i++) {
      String ours;
      try {
        ours = ChatTemplate.of(EQUAL.get(i), "test", Map.of()).render(MESSAGES, false, null, Map.of());
      } catch (ChatTemplateException e) {
        ours = "REFUSED: " + e.getMessage();
      }
      if (!expected.get(i).equals(ours)) {
        failures.add(EQUAL.get(i) + "\n  jinja2: " + expected.get(i) + "\n  rlhf4j: " + ours);
      }
    }
    assertTrue(failures.isEmpty(), String.join("\n", failures));
  }
}
