package org.rlhf4j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.rlhf4j.engine.AlgoOptions;
import org.rlhf4j.engine.NativeException;
import org.rlhf4j.engine.PpoOptions;

/**
 * Every ppo.* key's bound ({@link Range}) walked through both validations, so that Java and the
 * native library cannot disagree: just outside the bound Java rejects naming key and bound; at
 * the bound Java and r4j_ppo_validate both accept; where the native library guards the key, it
 * rejects the outside value too. And the native defaults are config's seed preset.
 */
class PpoBoundsTest {
  /** A valid ppo command whatever the algorithm (groups of 2; rollouts of 8 samples). */
  private static final List<String> BASE = List.of("model.path=m", "reward.model_path=r", "data.prompts=p",
      "generation.num_samples=2", "schedule.rollout_batch=4");

  /** Settings under which the native library reads a key at all, or the key's bound is reachable. */
  private static final Map<String, List<String>> CONTEXT = Map.of(
      "cliprange", List.of("ppo.clip_ratio=true"),
      "cliprange_value", List.of("ppo.clip_value=true"),
      "overlong_buffer_len", List.of("ppo.overlong_penalty_factor=1"),
      "minibatch_size", List.of("ppo.micro_batch_size=1"));

  /**
   * The keys r4j_ppo_validate checks against the same bound. Every other key that reaches the
   * native options is listed in {@link #NATIVE_OFF} with what its out-of-bound value means there.
   */
  private static final Set<String> NATIVE_GUARDS = Set.of("gamma", "lam", "cliprange", "cliprange_value", "vf_coef",
      "ent_coef", "kl_loss_coef", "cliprange_low", "dual_clip", "overlong_penalty_factor");

  /** Keys whose Java lower bound excludes 0 where the native struct reads 0 as "off". */
  private static final Map<String, String> NATIVE_OFF = Map.of(
      "cliprange_high", "0 = the symmetric cliprange",
      "overlong_buffer_len", "0 = no overlong punishment");

  private static final ConfigLoader<PpoRunConfig> LOADER = PpoRunConfig.loader();

  @Test
  void everyPpoKeyIsBoundedAlikeInJavaAndNative() throws Exception {
    List<String> walked = new ArrayList<>();
    for (Component c : Component.of(PpoSection.class)) {
      String key = "ppo." + c.key();
      Class<?> t = c.type();
      if (c.isPreset()) {
        for (Object p : t.getEnumConstants()) acceptedByBoth(key, name(p));
      } else if (t.isEnum()) {
        for (Object e : t.getEnumConstants()) acceptedByBoth(key, name(e));
      } else if (t == boolean.class) {
        acceptedByBoth(key, "true");
        acceptedByBoth(key, "false");
      } else {
        Range r = c.range();
        assertNotNull(r, key + " is a number without a @Range");
        boolean integral = t == int.class || t == Integer.class || t == long.class || t == Long.class;
        if (Double.isFinite(r.min())) walk(c, r.min(), r.minExclusive(), -1, integral);
        if (Double.isFinite(r.max())) walk(c, r.max(), r.maxExclusive(), +1, integral);
      }
      walked.add(c.key());
    }
    assertEquals(40, walked.size(), "every key of the ppo section");
  }

  /** One side of a bound: outside (towards direction) Java rejects, the nearest inside value both accept. */
  private static void walk(Component c, double bound, boolean exclusive, int direction, boolean integral) {
    String key = "ppo." + c.key();
    double inside = exclusive ? step(bound, -direction, integral) : bound;
    double outside = exclusive ? bound : step(bound, direction, integral);
    PpoRunConfig ok = acceptedByBoth(key, text(inside, integral));
    ConfigException e = assertThrows(ConfigException.class,
        () -> LOADER.load(settings(key, text(outside, integral))), key + " = " + outside);
    assertTrue(e.getMessage().startsWith(key + " must be "), e.getMessage());
    assertTrue(e.getMessage().contains(Check.format(bound)), key + ": the message names the bound: " + e.getMessage());
    String nativeName = camel(c.key());
    boolean reaches = component(PpoOptions.class, nativeName) != null || component(AlgoOptions.class, nativeName) != null;
    if (!reaches) return;
    PpoOptions o = with(ok.ppoOptions(), nativeName, outside);
    AlgoOptions a = with(ok.algoOptions(), nativeName, outside);
    boolean rejected;
    try {
      o.validate(a);
      rejected = false;
    } catch (NativeException n) {
      rejected = true;
      assertTrue(n.getMessage().contains(c.key()), key + ": the native message names the field: " + n.getMessage());
    }
    if (NATIVE_GUARDS.contains(c.key())) {
      assertTrue(rejected, key + " = " + outside + " is out of bound in Java but the native library accepts it");
    } else {
      assertTrue(NATIVE_OFF.containsKey(c.key()), key + " reaches the native options but is in neither "
          + "NATIVE_GUARDS nor NATIVE_OFF (native " + (rejected ? "rejects" : "accepts") + " " + outside + ")");
      assertTrue(!rejected, key + " = " + outside + ": native now guards it; move it to NATIVE_GUARDS");
    }
  }

  /** Java loads key = value (in its context), and r4j_ppo_validate accepts the options it makes. */
  private static PpoRunConfig acceptedByBoth(String key, String value) {
    PpoRunConfig cfg;
    try {
      cfg = LOADER.load(settings(key, value));
    } catch (ConfigException e) {
      throw new AssertionError(key + " = " + value + " is within its bound but Java rejects it: " + e.getMessage(), e);
    }
    try {
      cfg.ppoOptions().validate(cfg.algoOptions());
    } catch (NativeException e) {
      fail(key + " = " + value + " passes Java but the native library rejects it: " + e.getMessage());
    }
    return cfg;
  }

  private static List<String> settings(String key, String value) {
    List<String> all = new ArrayList<>(BASE);
    String bare = key.substring("ppo.".length());
    all.addAll(CONTEXT.getOrDefault(bare, List.of()));
    all.add(key + "=" + value);
    return all;
  }

  @Test
  void theNativeDefaultsAreConfigsSeedPreset() {
    PpoRunConfig seed = PpoRunConfig.defaults();
    assertEquals(PpoOptions.defaults(), seed.ppoOptions(), "r4j_ppo_options_defaults vs PpoSection.defaults()");
    AlgoOptions fromConfig = seed.algoOptions();
    // max_new_tokens is generation's length, not a default of the algorithm: native leaves it 0.
    assertEquals(AlgoOptions.defaults(), with(fromConfig, "maxNewTokens", 0),
        "r4j_algo_options_defaults vs PpoSection.defaults()");
  }

  @Test
  void everyPresetPassesBothValidations() {
    for (PpoPreset p : PpoPreset.values()) acceptedByBoth("ppo.preset", name(p));
    Set<String> keys = new TreeSet<>();
    for (PpoPreset p : PpoPreset.values()) keys.addAll(p.overrides().keySet());
    for (String k : keys) assertNotNull(component(PpoSection.class, camel(k)), "a preset sets unknown key " + k);
  }

  private static String name(Object e) {
    return ((Enum<?>) e).name().toLowerCase(Locale.ROOT);
  }

  private static double step(double v, int direction, boolean integral) {
    if (integral) return v + direction;
    return direction > 0 ? Math.nextUp(v) : Math.nextDown(v);
  }

  private static String text(double v, boolean integral) {
    return integral ? Long.toString((long) v) : Double.toString(v);
  }

  private static String camel(String snake) {
    StringBuilder b = new StringBuilder();
    boolean up = false;
    for (char ch : snake.toCharArray()) {
      if (ch == '_') {
        up = true;
      } else {
        b.append(up ? Character.toUpperCase(ch) : ch);
        up = false;
      }
    }
    return b.toString();
  }

  private static RecordComponent component(Class<?> record, String name) {
    for (RecordComponent rc : record.getRecordComponents()) if (rc.getName().equals(name)) return rc;
    return null;
  }

  /** A copy of record with component name set to value (converted to its type); record itself without one. */
  @SuppressWarnings("unchecked")
  private static <R extends Record> R with(R record, String name, double value) {
    RecordComponent[] rcs = record.getClass().getRecordComponents();
    Object[] args = new Object[rcs.length];
    Class<?>[] types = new Class<?>[rcs.length];
    try {
      for (int i = 0; i < rcs.length; i++) {
        types[i] = rcs[i].getType();
        args[i] = rcs[i].getAccessor().invoke(record);
        if (rcs[i].getName().equals(name)) {
          args[i] = types[i] == long.class ? (Object) (long) value : types[i] == int.class ? (Object) (int) value : value;
        }
      }
      return (R) record.getClass().getDeclaredConstructor(types).newInstance(args);
    } catch (ReflectiveOperationException e) {
      throw new AssertionError(e);
    }
  }
}
