package org.rlhf4j.demo.task;

import java.util.ArrayList;
import java.util.List;
import org.rlhf4j.demo.task.Grammar.Nonterminal;
import org.rlhf4j.demo.task.Grammar.Symbol;
import org.rlhf4j.demo.task.Grammar.Terminals;
import org.rlhf4j.demo.task.Lexicon.Polarity;
import org.rlhf4j.demo.task.Lexicon.Topic;

/**
 * The grammar of one-sentence reviews. Every start production is {@code S -> OPEN/x CONT/x}: an
 * opening (the prompt, which never carries sentiment) and its continuation (the response, where
 * every polarity choice is made). Constraints it encodes by splitting nonterminals:
 * <ul>
 *   <li>number agreement: "the fries were", "the soup was", "i was", "we were", "this place";
 *   <li>topic selection: food takes food adjectives ("crispy"), staff takes service ones
 *       ("rude"), and a pronoun keeps its antecedent's topic and number ("i ordered the fries
 *       and they were");
 *   <li>connectors: "and" joins clauses that are not of opposite polarity, "but" joins clauses of
 *       different polarity; adjectives coordinate only with the same polarity;
 *   <li>"really" modifies adjectives and verbs, "very" only adjectives;
 *   <li>at most two clauses, ending with "." or "!": no response is longer than 16 words.
 * </ul>
 */
final class ReviewGrammar {
  static final String START = "S";

  private enum Number {
    SG,
    PL
  }

  private enum Person {
    I,
    WE
  }

  private static final List<Polarity> POLARITIES = List.of(Polarity.values());

  private final Grammar.Builder g = new Grammar.Builder(START);

  private ReviewGrammar() {}

  static Grammar build() {
    var r = new ReviewGrammar();
    r.nounPhrases();
    r.predicates();
    r.personPredicates();
    r.secondClauses();
    r.openingsAndContinuations();
    return r.g.build();
  }

  private static List<String> nouns(Topic t, Number n) {
    return switch (t) {
      case FOOD -> n == Number.SG
          ? List.of("pasta", "soup", "steak", "pizza", "burger", "salad", "dessert", "bread", "coffee", "curry",
              "chicken", "fish", "cake", "sandwich")
          : List.of("fries", "noodles", "tacos", "wings", "dumplings", "ribs", "potatoes", "vegetables");
      case SERVICE -> n == Number.SG
          ? List.of("staff", "service", "waiter", "waitress", "server", "manager", "host")
          : List.of("waiters", "servers", "cooks");
      case PLACE -> n == Number.SG
          ? List.of("place", "restaurant", "room", "patio", "atmosphere", "decor", "bar")
          : List.of("tables", "seats", "bathrooms");
      case PRICE -> n == Number.SG ? List.of("bill", "price") : List.of("prices");
    };
  }

  private static List<String> determiners(Topic t, Number n) {
    return switch (t) {
      case FOOD -> List.of("the", "my", "our");
      case SERVICE, PRICE -> List.of("the", "our");
      case PLACE -> n == Number.SG ? List.of("the", "this") : List.of("the");
    };
  }

  /** Verbs of perception that take an adjective: "the soup tasted bland", "the staff seemed rude". */
  private static List<String> senses(Topic t) {
    return switch (t) {
      case FOOD -> List.of("seemed", "tasted", "looked", "smelled");
      case PLACE -> List.of("seemed", "looked");
      case SERVICE, PRICE -> List.of("seemed");
    };
  }

  private void nounPhrases() {
    for (Topic t : Topic.values()) {
      for (Number n : Number.values()) {
        g.rule(name("NOUN", t, n), 1, words(nouns(t, n)));
        g.rule(name("DET", t, n), 1, words(determiners(t, n)));
        g.rule(name("NP", t, n), 1, nt("DET", t, n), nt("NOUN", t, n));
        // The first clause's subject may say where; "the place at this place" would not read.
        g.rule(name("NP1", t, n), 0.4, nt("NP", t, n));
        if (t != Topic.PLACE) {
          g.rule(name("NP1", t, n), 0.2, nt("NP", t, n), word("here"));
          g.rule(name("NP1", t, n), 0.2, nt("NP", t, n), word("at"), word("this"), word("place"));
          g.rule(name("NP1", t, n), 0.2, nt("NP", t, n), word("at"), word("this"), word("restaurant"));
        }
      }
    }
    g.rule("COP/SG", 1, words(List.of("was", "is")));
    g.rule("COP/PL", 1, words(List.of("were", "are")));
    g.rule("INT", 1, words(List.of("really", "very", "so", "extremely")));
    g.rule("VADV", 1, words(List.of("really", "truly", "absolutely")));
    var every = new ArrayList<String>();
    for (Topic t : Topic.values()) for (Number n : Number.values()) every.addAll(nouns(t, n));
    g.rule("ANY_NOUN", 1, words(every));
  }

  private void predicates() {
    for (Topic t : Topic.values()) {
      for (Polarity p : POLARITIES) {
        var adjectives = new ArrayList<>(Lexicon.GENERIC_ADJECTIVES.of(p));
        adjectives.addAll(Lexicon.TOPIC_ADJECTIVES.get(t).of(p));
        g.rule(name("ADJ", t, p), 1, words(adjectives));
        g.rule(name("AP", t, p), 0.65, nt("ADJ", t, p));
        g.rule(name("AP", t, p), 0.35, nt("INT"), nt("ADJ", t, p));
        // The second adjective takes no intensifier: keeps the longest response at 16 words.
        g.rule(name("ADJP", t, p), 0.75, nt("AP", t, p));
        g.rule(name("ADJP", t, p), 0.25, nt("AP", t, p), word("and"), nt("ADJ", t, p));
        g.rule(name("COMP", t, p), 0.8, nt("ADJP", t, p));
        if (t == Topic.FOOD && !Lexicon.MANNER_ADVERBS.of(p).isEmpty()) {
          var participle = words(List.of("cooked", "served", "prepared"));
          g.rule(name("COMP", t, p), 0.14, participle, words(Lexicon.MANNER_ADVERBS.of(p)));
          g.rule(name("COMP", t, p), 0.06, participle, nt("INT"), words(Lexicon.MANNER_ADVERBS.of(p)));
        }
        for (Number n : Number.values()) {
          g.rule(name("PRED", t, n, p), 0.8, nt("COP", n), nt("COMP", t, p));
          g.rule(name("PRED", t, n, p), 0.2, words(senses(t)), nt("ADJP", t, p));
        }
      }
    }
  }

  private void personPredicates() {
    for (Polarity p : POLARITIES) {
      var feeling = words(Lexicon.FEELINGS.of(p));
      g.rule(name("FEELP", p), 0.45, feeling);
      g.rule(name("FEELP", p), 0.25, nt("INT"), feeling);
      g.rule(name("FEELP", p), 0.2, feeling, word("with"), word("the"), nt("ANY_NOUN"));
      g.rule(name("FEELP", p), 0.1, nt("INT"), feeling, word("with"), word("the"), nt("ANY_NOUN"));

      var verb = words(Lexicon.VERBS.of(p));
      g.rule(name("ACT", p), 0.5, verb, nt("OBJ"));
      g.rule(name("ACT", p), 0.25, nt("VADV"), verb, nt("OBJ"));
      if (!Lexicon.RECOMMENDATIONS.of(p).isEmpty()) {
        var rec = words(Lexicon.RECOMMENDATIONS.of(p));
        g.rule(name("ACT", p), 0.17, word("would"), rec, nt("REC_OBJ"));
        g.rule(name("ACT", p), 0.08, word("would"), nt("VADV"), rec, nt("REC_OBJ"));
      }
      for (Person s : Person.values()) {
        g.rule(name("PPRED", s, p), 0.4, be(s), nt("FEELP", p));
        g.rule(name("PPRED", s, p), 0.6, nt("ACT", p));
      }
    }
    g.rule("OBJ", 0.3, word("it"));
    g.rule("OBJ", 0.2, word("this"), word("place"));
    g.rule("OBJ", 0.1, word("every"), word("bite"));
    g.rule("OBJ", 0.4, word("the"), nt("ANY_NOUN"));
    g.rule("REC_OBJ", 0.4, word("it"));
    g.rule("REC_OBJ", 0.3, word("this"), word("place"));
    g.rule("REC_OBJ", 0.3, word("this"), word("restaurant"));
  }

  /** A clause after "and"/"but": a plain subject (no place phrase) and any predicate. */
  private void secondClauses() {
    for (Polarity p : POLARITIES) {
      for (Topic t : Topic.values()) {
        for (Number n : Number.values()) {
          g.rule(name("CLAUSE2", p), 0.7 * topicWeight(t) * numberWeight(n), nt("NP", t, n), nt("PRED", t, n, p));
        }
      }
      for (Person s : Person.values()) g.rule(name("CLAUSE2", p), 0.15, subject(s), nt("PPRED", s, p));
    }
  }

  /**
   * Openings of 1 to 12 words (prompts are those of 3 to 8) and, per kind of opening, the
   * continuation: the rest of the first clause with its polarity, optionally a connector and a
   * second clause, then the final punctuation.
   */
  private void openingsAndContinuations() {
    g.rule("OPENER", 1, word("honestly"), word(","));
    g.rule("OPENER", 1, word("overall"), word(","));
    g.rule("OPENER", 1, word("to"), word("be"), word("honest"), word(","));
    g.rule("VISIT", 1, word("we"), word("went"), word("there"), word("for"), word("dinner"), word("and"));
    g.rule("VISIT", 1, word("we"), word("came"), word("here"), word("for"), word("lunch"), word("and"));
    g.rule("VISIT", 1, word("i"), word("visited"), word("last"), word("weekend"), word("and"));
    g.rule("VISIT", 1, word("we"), word("stopped"), word("by"), word("yesterday"), word("and"));
    g.rule("END", 0.7, word("."));
    g.rule("END", 0.3, word("!"));
    g.rule("AND", 0.75, word("and"));
    g.rule("AND", 0.25, word(","), word("and"));
    g.rule("BUT", 0.75, word("but"));
    g.rule("BUT", 0.25, word(","), word("but"));

    for (Topic t : Topic.values()) {
      for (Number n : Number.values()) {
        String open = name("OPEN_NP", t, n);
        g.rule(open, 0.4, nt("NP1", t, n));
        g.rule(open, 0.3, nt("OPENER"), nt("NP1", t, n));
        g.rule(open, 0.3, nt("VISIT"), nt("NP1", t, n));
        g.rule(name("OPEN_COP", t, n), 1, nt(open), nt("COP", n));
        for (Polarity p : POLARITIES) g.rule(name("REST_NP", t, n, p), 1, nt("PRED", t, n, p));
        continuation(name("CONT_NP", t, n), name("REST_NP", t, n));
        double w = topicWeight(t) * numberWeight(n);
        g.rule(START, 0.25 * w, nt(open), nt("CONT_NP", t, n));
        g.rule(START, 0.35 * w, nt("OPEN_COP", t, n), nt("CONT_COP", t));
      }
      for (Polarity p : POLARITIES) g.rule(name("REST_COP", t, p), 1, nt("COMP", t, p));
      continuation(name("CONT_COP", t), name("REST_COP", t));
    }

    // "i ordered my fries and they": the possessive agrees with the person, the pronoun agrees
    // with the dish and keeps its topic.
    g.rule("ORDER", 1, word("i"), words(List.of("ordered", "had", "got")), words(List.of("the", "my")));
    g.rule("ORDER", 1, word("we"), words(List.of("ordered", "had", "got")), words(List.of("the", "our")));
    for (Number n : Number.values()) {
      String open = name("OPEN_PRON", n);
      g.rule(open, 1, nt("ORDER"), nt("NOUN", Topic.FOOD, n), word("and"), word(n == Number.SG ? "it" : "they"));
      g.rule(name("OPEN_PRONCOP", n), 1, nt(open), nt("COP", n));
      g.rule(START, 0.05 * numberWeight(n), nt(open), nt("CONT_NP", Topic.FOOD, n));
      g.rule(START, 0.10 * numberWeight(n), nt("OPEN_PRONCOP", n), nt("CONT_COP", Topic.FOOD));
    }

    for (Person s : Person.values()) {
      String open = name("OPEN_PERSON", s);
      g.rule(open, 0.2, subject(s));
      g.rule(open, 0.4, nt("OPENER"), subject(s));
      g.rule(open, 0.4, nt("VISIT"), subject(s));
      g.rule(name("OPEN_FEEL", s), 1, nt(open), be(s));
      for (Polarity p : POLARITIES) g.rule(name("REST_PERSON", s, p), 1, nt("PPRED", s, p));
      continuation(name("CONT_PERSON", s), name("REST_PERSON", s));
      g.rule(START, 0.15 / 2, nt(open), nt("CONT_PERSON", s));
      g.rule(START, 0.10 / 2, nt("OPEN_FEEL", s), nt("CONT_FEEL"));
    }
    for (Polarity p : POLARITIES) g.rule(name("REST_FEEL", p), 1, nt("FEELP", p));
    continuation("CONT_FEEL", "REST_FEEL");
  }

  /** cont -> rest/p END | rest/p AND CLAUSE2/q END | rest/p BUT CLAUSE2/q END, under the connector rules. */
  private void continuation(String cont, String rest) {
    for (Polarity p : POLARITIES) {
      Symbol first = nt(rest + "/" + p);
      g.rule(cont, 0.5 * polarityWeight(p), first, nt("END"));
      for (Polarity q : POLARITIES) {
        double w = polarityWeight(p) * polarityWeight(q);
        if (!p.opposite(q)) g.rule(cont, 0.5 * 0.55 * w, first, nt("AND"), nt("CLAUSE2", q), nt("END"));
        if (p != q) g.rule(cont, 0.5 * 0.45 * w, first, nt("BUT"), nt("CLAUSE2", q), nt("END"));
      }
    }
  }

  private static double polarityWeight(Polarity p) {
    return p == Polarity.NEUTRAL ? 0.25 : 1;
  }

  private static double topicWeight(Topic t) {
    return switch (t) {
      case FOOD -> 0.45;
      case SERVICE -> 0.25;
      case PLACE, PRICE -> 0.15;
    };
  }

  private static double numberWeight(Number n) {
    return n == Number.SG ? 0.65 : 0.35;
  }

  private static Symbol subject(Person s) {
    return word(s == Person.I ? "i" : "we");
  }

  private static Symbol be(Person s) {
    return word(s == Person.I ? "was" : "were");
  }

  private static Symbol word(String w) {
    return new Terminals(List.of(w));
  }

  private static Symbol words(List<String> ws) {
    return new Terminals(ws);
  }

  private static Nonterminal nt(String head, Object... parts) {
    return new Nonterminal(name(head, parts));
  }

  private static String name(String head, Object... parts) {
    var sb = new StringBuilder(head);
    for (Object p : parts) sb.append('/').append(p);
    return sb.toString();
  }
}
