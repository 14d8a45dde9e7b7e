package org.rlhf4j.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Finding the native library: explicit paths, variants, and clear errors. */
class NativeLibraryTest {
  @Test
  void aMissingLibraryIsOneClearLine() {
    String saved = System.getProperty(NativeLibrary.PROPERTY);
    try {
      System.setProperty(NativeLibrary.PROPERTY, "/nowhere/librlhf4j.so");
      NativeLibraryException e = assertThrows(NativeLibraryException.class, NativeLibrary::locate);
      assertTrue(e.getMessage().contains("not found at /nowhere/librlhf4j.so (from -Drlhf4j.native)"), e.getMessage());
      assertEquals(1, e.getMessage().lines().count());
    } finally {
      System.setProperty(NativeLibrary.PROPERTY, saved);
    }
  }

  @Test
  void theBestVariantIsCudaOnlyWhenAGpuIsVisible(@TempDir Path root) throws IOException {
    for (String v : new String[] {"cpu", "cuda-80-90"}) {
      Files.createDirectories(root.resolve(v));
      Files.writeString(root.resolve(v).resolve("librlhf4j.so"), "");
    }
    assertEquals(root.resolve("cpu/librlhf4j.so"), NativeLibrary.bestVariant(root, false));
    assertEquals(root.resolve("cuda-80-90/librlhf4j.so"), NativeLibrary.bestVariant(root, true));
  }

  @Test
  void anEmptyBuildRootSaysHowToBuild(@TempDir Path root) {
    NativeLibraryException e = assertThrows(NativeLibraryException.class, () -> NativeLibrary.bestVariant(root, false));
    assertTrue(e.getMessage().contains("run scripts/test"), e.getMessage());
  }

  @Test
  void theLoadedLibraryIsTheOneTheBuildPointedAt() {
    NativeLibrary.get();
    assertEquals(Path.of(System.getProperty(NativeLibrary.PROPERTY)), NativeLibrary.path());
  }
}
