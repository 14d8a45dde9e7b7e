package org.rlhf4j.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The hand-written bindings agree with rlhf4j.h: same functions, same arity, same carriers. */
class HeaderBindingTest {
  private static final Pattern DECLARATION =
      Pattern.compile("R4J_API\\s+([\\w\\s]+?\\**)\\s*(r4j_\\w+)\\s*\\(([^)]*)\\)\\s*;", Pattern.DOTALL);

  static Path header() {
    return Path.of(System.getProperty("rlhf4j.repo", ".")).resolve("native/include/rlhf4j.h");
  }

  /** Every function of the header: name -> parameter C types. */
  static Map<String, List<String>> declarations() throws IOException {
    String text = Files.readString(header()).replaceAll("/\\*.*?\\*/", " ");
    Map<String, List<String>> out = new LinkedHashMap<>();
    Matcher m = DECLARATION.matcher(text);
    while (m.find()) {
      List<String> types = new ArrayList<>();
      String params = m.group(3).trim();
      if (!params.equals("void")) {
        for (String p : params.split(",")) {
          // Drop the parameter name; keep the type with its stars.
          types.add(p.trim().replaceAll("\\s+", " ").replaceAll("\\w+$", "").trim());
        }
      }
      out.put(m.group(2), types);
    }
    return out;
  }

  /** The Java carrier a C parameter type maps to. */
  static MemoryLayout carrier(String cType) {
    if (cType.contains("*")) return ValueLayout.ADDRESS;
    return switch (cType.replace("const ", "")) {
      case "int32_t" -> ValueLayout.JAVA_INT;
      case "int64_t", "uint64_t", "size_t" -> ValueLayout.JAVA_LONG;
      case "double" -> ValueLayout.JAVA_DOUBLE;
      default -> throw new AssertionError("the header uses a C type the bindings do not map: " + cType);
    };
  }

  @Test
  void everyHeaderFunctionIsBoundWithTheSameParameters() throws IOException {
    Map<String, List<String>> header = declarations();
    Map<String, FunctionDescriptor> bound = Native.functions();
    assertTrue(header.size() > 40, "the header parser found only " + header.size() + " functions");
    TreeSet<String> expected = new TreeSet<>(header.keySet());
    expected.remove(Native.LAST_ERROR);
    assertEquals(expected, new TreeSet<>(bound.keySet()), "functions in rlhf4j.h vs Native.java");
    for (var e : header.entrySet()) {
      if (e.getKey().equals(Native.LAST_ERROR)) continue;
      List<MemoryLayout> want = e.getValue().stream().map(HeaderBindingTest::carrier).toList();
      List<MemoryLayout> got = bound.get(e.getKey()).argumentLayouts();
      assertEquals(want.size(), got.size(), e.getKey() + ": arity in rlhf4j.h vs Native.java");
      for (int i = 0; i < want.size(); i++) {
        assertEquals(want.get(i).withoutName(), got.get(i).withoutName(),
            e.getKey() + " parameter " + i + " (" + e.getValue().get(i) + ")");
      }
    }
  }

  /** The header's "#define R4J_{prefix}NAME value" lines as NAME to value, leaving out NAMEs starting with excluded. */
  static Map<String, Integer> defines(String prefix, String... excluded) throws IOException {
    Map<String, Integer> out = new LinkedHashMap<>();
    Matcher m = Pattern.compile("#define R4J_" + prefix + "(\\w+) (\\d+)").matcher(Files.readString(header()));
    outer:
    while (m.find()) {
      for (String x : excluded) if (m.group(1).startsWith(x)) continue outer;
      out.put(m.group(1), Integer.parseInt(m.group(2)));
    }
    return out;
  }

  /** Every switch of the algorithm: the Java enum's constants are exactly the header's, code for code. */
  @Test
  void everyAlgorithmEnumMatchesTheHeaderCodeForCode() throws IOException {
    assertCodes(defines("ESTIMATOR_"), AlgoOptions.Estimator.values(), e -> e.code);
    assertCodes(defines("SCALE_"), AlgoOptions.ScaleRewards.values(), e -> e.code);
    assertCodes(defines("KL_IN_"), AlgoOptions.KlIn.values(), e -> e.code);
    assertCodes(defines("KL_LOSS_"), AlgoOptions.KlLossEstimator.values(), e -> e.code);
    assertCodes(defines("LOSS_"), AlgoOptions.LossAgg.values(), e -> e.code);
    assertCodes(defines("IS_"), AlgoOptions.ImportanceSampling.values(), e -> e.code);
    assertCodes(defines("KL_", "IN_", "LOSS_"), PpoOptions.KlEstimator.values(), e -> e.code);
    assertCodes(defines("FIELD_"), RolloutField.values(), f -> f.code);
  }

  private static <E extends Enum<E>> void assertCodes(Map<String, Integer> header, E[] constants,
      java.util.function.ToIntFunction<E> code) {
    Map<String, Integer> java = new LinkedHashMap<>();
    for (E e : constants) java.put(e.name(), code.applyAsInt(e));
    assertEquals(header, java, constants[0].getDeclaringClass().getSimpleName() + " vs rlhf4j.h");
  }

  @Test
  void theParserSeesParameterTypes() throws IOException {
    assertEquals(List.of("r4j_optimizer *", "double", "r4j_step_result *"),
        declarations().get("r4j_optimizer_step"));
    assertEquals(List.of("const r4j_model_config *", "const char *", "r4j_model **"),
        declarations().get("r4j_model_create"));
    assertEquals(List.of(), declarations().get("r4j_last_error"));
  }
}
