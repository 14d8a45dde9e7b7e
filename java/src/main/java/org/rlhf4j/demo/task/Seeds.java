package org.rlhf4j.demo.task;

/** Stable seed mixing and string hashing, the same on every JVM. Stateless; thread-safe. */
final class Seeds {
  private Seeds() {}

  /** A seed for one purpose ({@code stream}) of one task seed and one call seed. */
  static long derive(long taskSeed, long stream, long seed) {
    return mix(mix(taskSeed, stream), seed);
  }

  static long mix(long a, long b) {
    return finish(a ^ finish(b + 0x9E3779B97F4A7C15L));
  }

  /** 64-bit FNV-1a over the UTF-16 units (String.hashCode's 32 bits collide too easily). */
  static long hash(String s) {
    long h = 0xCBF29CE484222325L;
    for (int i = 0; i < s.length(); i++) {
      h ^= s.charAt(i);
      h *= 0x100000001B3L;
    }
    return h;
  }

  /** SplitMix64's finaliser: every input bit affects every output bit. */
  private static long finish(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
