package org.rlhf4j.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The Java binding end to end: models, generation, scoring, the PPO phases, optimizers. */
class EngineTest {
  static ModelConfig tiny() {
    return ModelConfig.gpt2(48, 32, 16, 2, 2).withSeed(3);
  }

  @Test
  void buildInfoNamesTheOptimisedBlasAndTheCpu() {
    Engine.BuildInfo info = Engine.buildInfo();
    assertEquals(NativeLibrary.ABI_VERSION, info.abi());
    assertTrue(info.libtorch().startsWith("1.") || info.libtorch().startsWith("2."), info.libtorch());
    assertTrue(info.devices().contains("cpu"));
    assertEquals("openblas", info.blas(), "scripts/test installs OpenBLAS; got " + info.blasLibrary());
    assertFalse(info.referenceBlas());
    assertTrue(info.threads() >= 1);
    assertEquals(info.threads(), info.kernelThreads(), "the library's own kernels use every thread");
  }

  @Test
  void configDefaultsComeBackResolved() {
    try (Model m = Model.create(tiny().withValueHead(true), "cpu")) {
      assertEquals(64, m.config().nInner(), "n_inner defaults to 4 * n_embd");
      assertEquals(2, m.config().nKvHead());
      assertTrue(m.config().valueHead());
      long params = m.tensors().stream().mapToLong(TensorInfo::numel).sum();
      assertEquals(m.config().parameterCount(), params);
    }
  }

  @Test
  void tensorsRoundTripAndNamesFollowHuggingFace() {
    try (Model m = Model.create(tiny(), "cpu")) {
      List<TensorInfo> t = m.tensors();
      assertEquals("transformer.wte.weight", t.get(0).name());
      assertArrayEquals(new long[] {48, 16}, t.get(0).shape());
      assertEquals("transformer.h.0.attn.c_attn.weight", t.get(4).name());
      float[] w = new float[16];
      for (int i = 0; i < w.length; i++) w[i] = i * 0.5f;
      m.writeFloats("transformer.ln_f.weight", w);
      assertArrayEquals(w, m.readFloats("transformer.ln_f.weight", 16));
    }
  }

  @Test
  void generationIsSeededAndMatchesItsSlowTwin() {
    try (Model m = Model.create(tiny().withValueHead(true), "cpu")) {
      List<int[]> prompts = List.of(new int[] {5, 6, 7}, new int[] {8}, new int[] {9, 10, 11, 12});
      GenerateOptions o = GenerateOptions.sampling(6).withValues(true).withTokens(2, -1, 0).withSeed(11);
      try (Rollout a = m.generate(prompts, o);
          Rollout b = m.generate(prompts, o);
          Rollout c = m.generate(prompts, o.withSeed(12))) {
        assertEquals(3, a.batch());
        assertEquals(4, a.queryLen());
        assertArrayEquals(a.ints(RolloutField.RESPONSE_TOKENS), b.ints(RolloutField.RESPONSE_TOKENS));
        assertFalse(java.util.Arrays.equals(a.ints(RolloutField.RESPONSE_TOKENS),
            c.ints(RolloutField.RESPONSE_TOKENS)), "another seed, other tokens");
        float[] recorded = a.floats(RolloutField.OLD_LOGPROBS);
        a.scorePolicy(m, 1.0, Rollout.LOGPROBS);
        float[] full = a.floats(RolloutField.OLD_LOGPROBS);
        for (int i = 0; i < full.length; i++) assertEquals(recorded[i], full[i], 1e-5);
      }
    }
  }

  @Test
  void releasingCachedMemoryLeavesLiveModelsAndRolloutsAsTheyWere() {
    // Vocabulary 8192 at width 32: the embedding (1 MiB) and each pass's logits are blocks the
    // native CPU cache keeps, so releasing its free pages runs beside live ones.
    try (Model m = Model.create(ModelConfig.gpt2(8192, 64, 32, 2, 2).withSeed(5), "cpu")) {
      List<int[]> prompts = List.of(new int[] {5, 6, 7}, new int[] {8, 9});
      GenerateOptions o = GenerateOptions.sampling(12).withSeed(4);
      try (Rollout a = m.generate(prompts, o)) {
        int[] tokens = a.ints(RolloutField.RESPONSE_TOKENS);
        float[] logprobs = a.floats(RolloutField.OLD_LOGPROBS);
        Engine.releaseCachedMemory();
        assertArrayEquals(tokens, a.ints(RolloutField.RESPONSE_TOKENS));
        assertArrayEquals(logprobs, a.floats(RolloutField.OLD_LOGPROBS));
        try (Rollout b = m.generate(prompts, o)) {
          assertArrayEquals(tokens, b.ints(RolloutField.RESPONSE_TOKENS));
          assertArrayEquals(logprobs, b.floats(RolloutField.OLD_LOGPROBS));
        }
      }
    }
  }

  @Test
  void scoreAndRolloutAgreeOnLogprobs() {
    try (Model m = Model.create(tiny(), "cpu");
        Rollout r = Rollout.of(m, List.of(new int[] {3, 4}), List.of(new int[] {5, 6, 7}), 0, -1)) {
      r.scorePolicy(m, 1.0, Rollout.LOGPROBS);
      float[] perToken = r.floats(RolloutField.OLD_LOGPROBS);
      Model.Scores s = m.score(TokenBatch.rightPadded(List.of(new int[] {3, 4, 5, 6, 7}), 0), 1.0, true, false);
      for (int i = 0; i < 3; i++) assertEquals(s.logprobs()[2 + i], perToken[i], 1e-5);
      assertTrue(s.entropy()[2] > 0);
    }
  }

  @Test
  void aPpoIterationRunsThroughTheBinding() {
    try (Model policy = Model.create(tiny().withValueHead(true), "cpu");
        Model ref = Model.create(tiny().withValueHead(true), "cpu");
        Optimizer opt = Optimizer.create(policy, Optimizer.AdamW.defaults());
        Rollout r = policy.generate(List.of(new int[] {3, 4}, new int[] {5, 6}),
            GenerateOptions.sampling(5).withValues(true).withSeed(1))) {
      ref.copyWeightsFrom(policy);
      r.scoreRef(ref, null, 1.0);
      r.write(RolloutField.SCORES, new float[] {1.0f, -1.0f});
      var rs = r.rewards(PpoOptions.defaults(), AlgoOptions.defaults(), 0.1, 0.0, 1.0);
      assertEquals(0.0, rs.kl(), 1e-5);
      assertEquals(0.0, rs.scores(), 1e-6);
      var as = r.advantages(PpoOptions.defaults(), AlgoOptions.defaults()).stats();
      assertFalse(as.nonFinite());
      var ls = r.accumulate(policy, null, new long[] {0, 1}, PpoOptions.defaults(), AlgoOptions.defaults(), 1.0)
          .stats();
      assertEquals(1.0, ls.ratioMean(), 1e-6);
      assertTrue(ls.nTokens() > 0);
      var step = opt.step(1e-3);
      assertEquals(1, step.step());
      assertTrue(opt.tensors().stream().anyMatch(t -> t.name().equals("transformer.wte.weight.exp_avg")));
    }
  }

  @Test
  void nativeErrorsArriveAsExceptionsWithTheNativeMessage() {
    NativeException e = assertThrows(NativeException.class, () -> Model.create(tiny(), "cuda:0"));
    assertEquals(Status.DEVICE, e.status());
    assertTrue(e.getMessage().contains("cuda:0"), e.getMessage());
    e = assertThrows(NativeException.class, () -> Model.create(ModelConfig.gpt2(48, 32, 16, 2, 3), "cpu"));
    assertEquals(Status.INVALID_ARGUMENT, e.status());
    assertTrue(e.getMessage().contains("multiple of n_head"), e.getMessage());
  }

  @Test
  void misuseIsAnExceptionNeverACrash() {
    Model m = Model.create(tiny(), "cpu");
    NativeException wrongSize = assertThrows(NativeException.class,
        () -> m.writeFloats("transformer.wte.weight", new float[3]));
    assertTrue(wrongSize.getMessage().contains("expected exactly 3072"), wrongSize.getMessage());
    NativeException tooSmall = assertThrows(NativeException.class, () -> m.readFloats("transformer.wte.weight", 3));
    assertEquals(Status.BUFFER_TOO_SMALL, tooSmall.status());
    NativeException oov = assertThrows(NativeException.class,
        () -> m.generate(List.of(new int[] {1, 99}), GenerateOptions.sampling(2)));
    assertTrue(oov.getMessage().contains("outside the vocabulary"), oov.getMessage());
    assertThrows(IllegalArgumentException.class, () -> m.generate(List.of(), GenerateOptions.sampling(2)));
    Optimizer opt = Optimizer.create(m, Optimizer.AdamW.defaults());
    m.close();
    m.close(); // double close is harmless
    IllegalStateException closed = assertThrows(IllegalStateException.class, m::tensors);
    assertEquals("this model is closed", closed.getMessage());
    NativeException orphan = assertThrows(NativeException.class, () -> opt.step(0.1));
    assertEquals(Status.INVALID_HANDLE, orphan.status());
    opt.close();
    assertThrows(IllegalStateException.class, () -> opt.step(0.1));
  }

  @Test
  void twoThreadsOnOneModelGetBusyNotACrash() throws Exception {
    ModelConfig big = ModelConfig.gpt2(256, 512, 64, 4, 4).withSeed(1);
    try (Model m = Model.create(big, "cpu")) {
      List<int[]> prompts = java.util.Collections.nCopies(8, new int[] {1, 2, 3});
      var stop = new java.util.concurrent.atomic.AtomicBoolean();
      var busySeen = new java.util.concurrent.atomic.AtomicReference<NativeException>();
      var workerFailure = new java.util.concurrent.atomic.AtomicReference<Throwable>();
      // The worker generates until the threads have run into each other on the handle
      // (either side may be the one refused), however fast one generation is.
      Thread worker = new Thread(() -> {
        try {
          while (!stop.get()) {
            try (Rollout r = m.generate(prompts, GenerateOptions.sampling(500))) {
              assertNotEquals(0, r.responseLen());
            } catch (NativeException e) {
              if (e.status() != Status.BUSY) throw e;
              busySeen.compareAndSet(null, e);
            }
          }
        } catch (Throwable t) {
          workerFailure.set(t);
        }
      });
      worker.start();
      long deadline = System.nanoTime() + 60_000_000_000L;
      while (busySeen.get() == null && worker.isAlive() && System.nanoTime() < deadline) {
        try {
          m.tensors();
        } catch (NativeException e) {
          if (e.status() != Status.BUSY) throw e;
          busySeen.compareAndSet(null, e);
        }
      }
      stop.set(true);
      worker.join();
      assertEquals(null, workerFailure.get(), "the generating thread failed");
      NativeException busy = busySeen.get();
      assertTrue(busy != null, "the two threads never ran into each other within a minute");
      assertEquals(Status.BUSY, busy.status());
      assertTrue(busy.getMessage().contains("in use by a call on another thread"), busy.getMessage());
      assertEquals(big.parameterCount(), m.tensors().stream().mapToLong(TensorInfo::numel).sum());
    }
  }
}
