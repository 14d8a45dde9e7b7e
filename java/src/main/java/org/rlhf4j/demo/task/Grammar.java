package org.rlhf4j.demo.task;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.random.RandomGenerator;

/**
 * A weighted context-free grammar without empty productions or recursion, so every derivation
 * is finite and short. Weights only steer sampling; the language is the same without them.
 * Immutable; thread-safe.
 */
final class Grammar {
  sealed interface Symbol permits Nonterminal, Terminals {}

  record Nonterminal(String name) implements Symbol {}

  /** One position that any of {@code words} fills; sampling picks one uniformly. */
  record Terminals(List<String> words, Set<String> set) implements Symbol {
    Terminals(List<String> words) {
      this(List.copyOf(words), Set.copyOf(words));
    }

    Terminals {
      if (words.isEmpty()) throw new IllegalArgumentException("a terminal position needs at least one word");
    }
  }

  /** lhs -> rhs; {@code id} indexes {@link #productions()}. */
  record Production(int id, String lhs, List<Symbol> rhs, double weight) {}

  private final String start;
  private final List<Production> productions;
  private final Map<String, List<Production>> byLhs;
  private final Map<String, Integer> maxLength;

  private Grammar(String start, List<Production> productions) {
    this.start = start;
    this.productions = List.copyOf(productions);
    var map = new LinkedHashMap<String, List<Production>>();
    for (Production p : productions) map.computeIfAbsent(p.lhs(), k -> new ArrayList<>()).add(p);
    map.replaceAll((k, v) -> List.copyOf(v));
    this.byLhs = Collections.unmodifiableMap(map);
    checkDefined();
    this.maxLength = maxLengths();
  }

  String start() {
    return start;
  }

  List<Production> productions() {
    return productions;
  }

  List<Production> productions(String lhs) {
    return byLhs.get(lhs);
  }

  Set<String> nonterminals() {
    return byLhs.keySet();
  }

  /** Every word the grammar can produce, sorted. */
  List<String> terminals() {
    var words = new TreeSet<String>();
    for (Production p : productions) {
      for (Symbol s : p.rhs()) if (s instanceof Terminals t) words.addAll(t.words());
    }
    return List.copyOf(words);
  }

  /** The most words a derivation of {@code nonterminal} has. */
  int maxLength(String nonterminal) {
    return maxLength.get(nonterminal);
  }

  /** A production of {@code lhs}, drawn in proportion to the weights. */
  Production choose(String lhs, RandomGenerator rng) {
    List<Production> options = byLhs.get(lhs);
    double total = 0;
    for (Production p : options) total += p.weight();
    double x = rng.nextDouble() * total;
    for (Production p : options) {
      x -= p.weight();
      if (x < 0) return p;
    }
    return options.getLast();
  }

  /** Appends a random derivation of {@code symbol} to {@code out}. */
  void sample(Symbol symbol, RandomGenerator rng, List<String> out) {
    switch (symbol) {
      case Terminals t -> out.add(t.words().get(rng.nextInt(t.words().size())));
      case Nonterminal n -> {
        for (Symbol s : choose(n.name(), rng).rhs()) sample(s, rng, out);
      }
    }
  }

  private void checkDefined() {
    if (!byLhs.containsKey(start)) throw new IllegalStateException("start symbol " + start + " has no production");
    for (Production p : productions) {
      for (Symbol s : p.rhs()) {
        if (s instanceof Nonterminal n && !byLhs.containsKey(n.name())) {
          throw new IllegalStateException("nonterminal " + n.name() + " (used by " + p.lhs() + ") has no production");
        }
      }
    }
  }

  /** Longest derivation per nonterminal; a depth-first walk that also rejects recursion. */
  private Map<String, Integer> maxLengths() {
    var memo = new HashMap<String, Integer>();
    var onPath = new HashSet<String>();
    for (String nt : byLhs.keySet()) maxLength(nt, memo, onPath);
    return Map.copyOf(memo);
  }

  private int maxLength(String nt, Map<String, Integer> memo, Set<String> onPath) {
    Integer known = memo.get(nt);
    if (known != null) return known;
    if (!onPath.add(nt)) throw new IllegalStateException("grammar is recursive at " + nt);
    int best = 0;
    for (Production p : byLhs.get(nt)) {
      int len = 0;
      for (Symbol s : p.rhs()) len += s instanceof Nonterminal n ? maxLength(n.name(), memo, onPath) : 1;
      best = Math.max(best, len);
    }
    onPath.remove(nt);
    memo.put(nt, best);
    return best;
  }

  /** Collects productions in order; {@link #build} checks the result. Not thread-safe. */
  static final class Builder {
    private final String start;
    private final List<Production> productions = new ArrayList<>();

    Builder(String start) {
      this.start = start;
    }

    Builder rule(String lhs, double weight, Symbol... rhs) {
      if (rhs.length == 0) throw new IllegalArgumentException("empty production for " + lhs);
      if (!(weight > 0)) throw new IllegalArgumentException("weight of a production of " + lhs + " must be > 0");
      productions.add(new Production(productions.size(), lhs, List.of(rhs), weight));
      return this;
    }

    Grammar build() {
      return new Grammar(start, productions);
    }
  }
}
