package org.rlhf4j.engine;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.rlhf4j.engine.PpoResults.StepResult;

/**
 * AdamW over one model's parameters (r4j_optimizer), with global grad-norm clipping and a
 * learning rate given per step. Its state is named tensors ("NAME.exp_avg",
 * "NAME.exp_avg_sq", "step") for checkpoints. Close it before its model. Not thread-safe.
 */
public final class Optimizer extends TensorSource implements AutoCloseable {
  /** AdamW's hyper-parameters; maxGradNorm 0 turns clipping off. */
  public record AdamW(double beta1, double beta2, double eps, double weightDecay, double maxGradNorm) {
    public static AdamW defaults() {
      return new AdamW(0.9, 0.999, 1e-8, 0.0, 0.0);
    }

    void write(MemorySegment s) {
      Struct a = Layouts.ADAMW_OPTIONS;
      a.set(s, "beta1", beta1);
      a.set(s, "beta2", beta2);
      a.set(s, "eps", eps);
      a.set(s, "weight_decay", weightDecay);
      a.set(s, "max_grad_norm", maxGradNorm);
    }
  }

  private final Native lib;
  private final NativeHandle handle;

  private Optimizer(Native lib, MemorySegment pointer) {
    this.lib = lib;
    this.handle = new NativeHandle("optimizer", pointer, lib::optimizerDestroy);
  }

  public static Optimizer create(Model model, AdamW options) {
    Native lib = NativeLibrary.get();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment o = arena.allocate(Layouts.ADAMW_OPTIONS.layout());
      options.write(o);
      MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
      lib.optimizerCreate(model.pointer(), o, out);
      return new Optimizer(lib, out.get(ValueLayout.ADDRESS, 0));
    }
  }

  MemorySegment pointer() {
    return handle.get();
  }

  /** Clips, steps at lr, zeroes gradients; non-finite gradients skip the step. */
  public StepResult step(double lr) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(Layouts.STEP_RESULT.layout());
      lib.optimizerStep(pointer(), lr, out);
      return StepResult.read(out);
    }
  }

  public void zeroGrad() {
    lib.optimizerZeroGrad(pointer());
  }

  @Override
  void count(MemorySegment out) {
    lib.optimizerTensorCount(pointer(), out);
  }

  @Override
  void info(long index, MemorySegment name, long cap, MemorySegment dtype, MemorySegment ndim,
      MemorySegment shape, int shapeCap) {
    lib.optimizerTensorInfo(pointer(), index, name, cap, dtype, ndim, shape, shapeCap);
  }

  @Override
  void read(MemorySegment name, int dtype, MemorySegment dst, long bytes) {
    lib.optimizerReadTensor(pointer(), name, dtype, dst, bytes);
  }

  @Override
  void write(MemorySegment name, int dtype, MemorySegment src, long bytes) {
    lib.optimizerWriteTensor(pointer(), name, dtype, src, bytes);
  }

  public boolean isClosed() {
    return handle.isClosed();
  }

  @Override
  public void close() {
    handle.close();
  }
}
