package org.rlhf4j.engine;

import java.util.function.ToIntFunction;

/** The enum constant of a native R4J_* code. */
final class Codes {
  private Codes() {}

  /** @throws IllegalStateException when no constant has the code (the bindings lag the header) */
  static <E extends Enum<E>> E of(E[] constants, int code, ToIntFunction<E> codeOf) {
    for (E e : constants) {
      if (codeOf.applyAsInt(e) == code) return e;
    }
    throw new IllegalStateException("the native library returned " + constants[0].getDeclaringClass().getSimpleName()
        + " code " + code + ", which these bindings do not know");
  }
}
