package org.rlhf4j.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import org.rlhf4j.checkpoint.SafetensorsFile;
import org.rlhf4j.checkpoint.TensorEntry;

/** Float32 safetensors files compared tensor by tensor. */
public final class Weights {
  private Weights() {}

  /** Same tensors, and no element differs by more than tolerance (the largest difference is named). */
  public static void assertClose(Path a, Path b, double tolerance) {
    try (SafetensorsFile fa = SafetensorsFile.open(a); SafetensorsFile fb = SafetensorsFile.open(b)) {
      assertEquals(fa.tensors().size(), fb.tensors().size());
      double worst = 0;
      String where = "";
      for (TensorEntry ea : fa.tensors()) {
        TensorEntry eb = fb.find(ea.name()).orElseThrow(() -> new AssertionError(ea.name() + " missing in " + b));
        float[] x = fa.data(ea).toArray(ValueLayout.JAVA_FLOAT);
        float[] y = fb.data(eb).toArray(ValueLayout.JAVA_FLOAT);
        assertEquals(x.length, y.length, ea.name());
        for (int i = 0; i < x.length; i++) {
          double d = Math.abs(x[i] - y[i]);
          if (d > worst) {
            worst = d;
            where = ea.name() + "[" + i + "]";
          }
        }
      }
      assertTrue(worst <= tolerance, "largest weight difference " + worst + " at " + where);
    }
  }
}
