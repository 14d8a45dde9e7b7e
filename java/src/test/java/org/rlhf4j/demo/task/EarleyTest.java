package org.rlhf4j.demo.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The recogniser against its slow twin: the grammar's whole (finite) language, enumerated. */
class EarleyTest {
  private static Grammar.Terminals w(String... words) {
    return new Grammar.Terminals(List.of(words));
  }

  private static Grammar.Nonterminal nt(String name) {
    return new Grammar.Nonterminal(name);
  }

  /** A small ambiguous grammar with shared prefixes and a terminal set. */
  private static Grammar toy() {
    return new Grammar.Builder("S")
        .rule("S", 1, nt("NP"), nt("VP"))
        .rule("S", 1, nt("NP"), nt("VP"), w("and"), nt("NP"), nt("VP"))
        .rule("NP", 1, w("the"), nt("N"))
        .rule("NP", 1, nt("N"))
        .rule("N", 1, w("cat", "dog"))
        .rule("VP", 1, w("sees"))
        .rule("VP", 1, w("sees"), nt("NP"))
        .build();
  }

  private static Set<List<String>> language(Grammar g, List<Grammar.Symbol> form) {
    int i = 0;
    while (i < form.size() && form.get(i) instanceof Grammar.Terminals t && t.words().size() == 1) i++;
    var out = new HashSet<List<String>>();
    if (i == form.size()) {
      var words = new ArrayList<String>();
      for (Grammar.Symbol s : form) words.add(((Grammar.Terminals) s).words().getFirst());
      out.add(words);
      return out;
    }
    var expansions = new ArrayList<List<Grammar.Symbol>>();
    switch (form.get(i)) {
      case Grammar.Terminals t -> t.words().forEach(x -> expansions.add(List.of(w(x))));
      case Grammar.Nonterminal n -> g.productions(n.name()).forEach(p -> expansions.add(p.rhs()));
    }
    for (List<Grammar.Symbol> e : expansions) {
      var next = new ArrayList<>(form.subList(0, i));
      next.addAll(e);
      next.addAll(form.subList(i + 1, form.size()));
      out.addAll(language(g, next));
    }
    return out;
  }

  @Test
  void acceptsExactlyTheEnumeratedLanguageUpToFiveWords() {
    Grammar g = toy();
    Set<List<String>> language = language(g, List.of(nt("S")));
    var earley = new Earley(g);
    List<String> alphabet = List.of("the", "cat", "dog", "sees", "and");
    List<List<String>> strings = new ArrayList<>(List.of(List.of()));
    int accepted = 0;
    for (int len = 0; len <= 5; len++) {
      var longer = new ArrayList<List<String>>();
      for (List<String> s : strings) {
        boolean expected = language.contains(s);
        assertEquals(expected, earley.accepts(s), () -> "sentence " + s);
        if (expected) accepted++;
        for (String a : alphabet) {
          var t = new ArrayList<>(s);
          t.add(a);
          longer.add(t);
        }
      }
      strings = longer;
    }
    // Sanity: the test saw both verdicts many times.
    assertTrue(accepted > 20, "accepted " + accepted);
  }

  @Test
  void grammarRejectsRecursionAndUndefinedSymbols() {
    var recursive = new Grammar.Builder("S").rule("S", 1, w("a")).rule("S", 1, w("a"), nt("S"));
    assertThrows(IllegalStateException.class, recursive::build);
    var undefined = new Grammar.Builder("S").rule("S", 1, nt("X"));
    assertThrows(IllegalStateException.class, undefined::build);
  }
}
