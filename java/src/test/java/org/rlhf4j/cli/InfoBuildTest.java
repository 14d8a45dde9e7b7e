package org.rlhf4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import org.junit.jupiter.api.Test;
import org.rlhf4j.engine.Engine;

class InfoBuildTest {
  @Test
  void theTableNamesTheKernelsThisCpuTakes() {
    Engine.BuildInfo info = Engine.buildInfo();
    assertTrue(Set.of("avx512", "avx2", "none").contains(info.decodeKernel()), info.json());
    assertTrue(Set.of("avx512bf16", "avx2", "plain").contains(info.bf16DecodeKernel()), info.json());
    assertTrue(Set.of("onednn bf16", "aten (onednn bf16)", "float32 copies").contains(info.bf16Matmul()), info.json());
    Cli r = Cli.run("info");
    assertEquals(0, r.code(), r::toString);
    assertTrue(r.out().contains("kernels     decoding " + info.decodeKernel() + ", bf16 decoding "
        + info.bf16DecodeKernel() + ", bf16 products of many rows: " + info.bf16Matmul()), r.out());
  }
}
