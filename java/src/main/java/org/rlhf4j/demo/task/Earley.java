package org.rlhf4j.demo.task;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An Earley recogniser for a {@link Grammar}: does the start symbol derive exactly these words?
 * The grammar has no empty productions, so prediction never has to complete in place. Cost is
 * cubic in the sentence length at worst; sentences here are under 30 words.
 * Immutable; thread-safe (each call has its own chart).
 */
final class Earley {
  /** A production with a dot before rhs[dot], begun at word {@code origin}. */
  private record Item(int production, int dot, int origin) {}

  private final int[] lhs;
  private final int[][] rhsNonterminal; // nonterminal id per position, or -1 for a terminal position
  private final Set<String>[][] rhsWords; // words per terminal position, or null
  private final int[][] productionsOf; // production ids per nonterminal id
  private final int startId;

  @SuppressWarnings("unchecked")
  Earley(Grammar grammar) {
    Map<String, Integer> ids = new HashMap<>();
    for (String nt : grammar.nonterminals()) ids.put(nt, ids.size());
    List<Grammar.Production> all = grammar.productions();
    lhs = new int[all.size()];
    rhsNonterminal = new int[all.size()][];
    rhsWords = new Set[all.size()][];
    List<List<Integer>> byLhs = new ArrayList<>();
    for (int i = 0; i < ids.size(); i++) byLhs.add(new ArrayList<>());
    for (Grammar.Production p : all) {
      int id = p.id();
      lhs[id] = ids.get(p.lhs());
      byLhs.get(lhs[id]).add(id);
      int n = p.rhs().size();
      rhsNonterminal[id] = new int[n];
      rhsWords[id] = new Set[n];
      for (int k = 0; k < n; k++) {
        switch (p.rhs().get(k)) {
          case Grammar.Nonterminal nt -> rhsNonterminal[id][k] = ids.get(nt.name());
          case Grammar.Terminals t -> {
            rhsNonterminal[id][k] = -1;
            rhsWords[id][k] = t.set();
          }
        }
      }
    }
    productionsOf = new int[ids.size()][];
    for (int i = 0; i < ids.size(); i++) productionsOf[i] = byLhs.get(i).stream().mapToInt(x -> x).toArray();
    startId = ids.get(grammar.start());
  }

  /** True when the grammar's start symbol derives exactly {@code words}. */
  boolean accepts(List<String> words) {
    int n = words.size();
    List<List<Item>> chart = new ArrayList<>(n + 1);
    List<Set<Item>> seen = new ArrayList<>(n + 1);
    List<Map<Integer, List<Item>>> waiting = new ArrayList<>(n + 1); // items per set, by the nonterminal they need
    for (int i = 0; i <= n; i++) {
      chart.add(new ArrayList<>());
      seen.add(new HashSet<>());
      waiting.add(new HashMap<>());
    }
    for (int p : productionsOf[startId]) add(chart, seen, 0, new Item(p, 0, 0));
    for (int i = 0; i <= n; i++) {
      List<Item> set = chart.get(i);
      if (set.isEmpty()) return false; // no parse survives word i-1
      boolean[] predicted = new boolean[productionsOf.length];
      for (int k = 0; k < set.size(); k++) {
        Item item = set.get(k);
        int[] rhs = rhsNonterminal[item.production()];
        if (item.dot() == rhs.length) {
          int done = lhs[item.production()];
          for (Item parent : waiting.get(item.origin()).getOrDefault(done, List.of())) {
            add(chart, seen, i, new Item(parent.production(), parent.dot() + 1, parent.origin()));
          }
        } else if (rhs[item.dot()] >= 0) {
          int needed = rhs[item.dot()];
          waiting.get(i).computeIfAbsent(needed, x -> new ArrayList<>()).add(item);
          if (!predicted[needed]) {
            predicted[needed] = true;
            for (int p : productionsOf[needed]) add(chart, seen, i, new Item(p, 0, i));
          }
        } else if (i < n && rhsWords[item.production()][item.dot()].contains(words.get(i))) {
          add(chart, seen, i + 1, new Item(item.production(), item.dot() + 1, item.origin()));
        }
      }
    }
    for (Item item : chart.get(n)) {
      if (item.origin() == 0 && lhs[item.production()] == startId
          && item.dot() == rhsNonterminal[item.production()].length) {
        return true;
      }
    }
    return false;
  }

  private static void add(List<List<Item>> chart, List<Set<Item>> seen, int i, Item item) {
    if (seen.get(i).add(item)) chart.get(i).add(item);
  }
}
