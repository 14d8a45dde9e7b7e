package org.rlhf4j.engine;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * An owned native handle: closed once, and unusable after that with a clear message
 * instead of a dangling pointer reaching the library.
 */
final class NativeHandle {
  private final String kind;
  private final AtomicReference<MemorySegment> pointer;
  private final Consumer<MemorySegment> destroy;

  NativeHandle(String kind, MemorySegment pointer, Consumer<MemorySegment> destroy) {
    this.kind = kind;
    this.pointer = new AtomicReference<>(pointer);
    this.destroy = destroy;
  }

  /** The live pointer; throws IllegalStateException when the handle is closed. */
  MemorySegment get() {
    MemorySegment p = pointer.get();
    if (p == null) throw new IllegalStateException("this " + kind + " is closed");
    return p;
  }

  boolean isClosed() {
    return pointer.get() == null;
  }

  /** Destroys the native object; a second close does nothing. */
  void close() {
    MemorySegment p = pointer.get();
    if (p == null) return;
    try {
      destroy.accept(p);
    } catch (NativeException e) {
      // BUSY: another thread is inside a call on it. The handle stays open.
      throw new IllegalStateException("cannot close this " + kind + ": " + e.getMessage(), e);
    }
    pointer.compareAndSet(p, null);
  }
}
