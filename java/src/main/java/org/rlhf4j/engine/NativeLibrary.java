package org.rlhf4j.engine;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.stream.Stream;

/**
 * Finds, loads and checks the native library, once per JVM. The library comes from
 * {@code -Drlhf4j.native=PATH}, else the {@code RLHF4J_NATIVE} environment variable, else
 * the build that made this jar (the best variant under its native build root: a
 * {@code cuda*} variant when an NVIDIA GPU is visible, otherwise {@code cpu}). A missing,
 * unloadable or mismatched library is a {@link NativeLibraryException} with one clear line.
 *
 * <p>Thread-safe: the first caller loads the library under a lock; later callers share it.
 */
public final class NativeLibrary {
  public static final String PROPERTY = "rlhf4j.native";
  public static final String ENVIRONMENT = "RLHF4J_NATIVE";
  /** The ABI version (R4J_ABI_VERSION) these bindings were written against. */
  public static final int ABI_VERSION = 5;

  private static Native loaded;
  private static Path loadedFrom;

  private NativeLibrary() {}

  /** The bound library, loading it on first use. */
  public static synchronized Native get() {
    if (loaded == null) {
      Path path = locate();
      loaded = load(path);
      loadedFrom = path;
    }
    return loaded;
  }

  /** Where the library was loaded from (loads it if needed). */
  public static synchronized Path path() {
    get();
    return loadedFrom;
  }

  /** Where the library will be loaded from, and why: the first source that names one. */
  static Path locate() {
    String property = System.getProperty(PROPERTY);
    if (property != null && !property.isBlank()) return existing(Path.of(property), "-D" + PROPERTY);
    String env = System.getenv(ENVIRONMENT);
    if (env != null && !env.isBlank()) return existing(Path.of(env), ENVIRONMENT);
    Path root = buildRoot();
    if (root == null) {
      throw new NativeLibraryException("no rlhf4j native library configured: pass -D" + PROPERTY
          + "=/path/to/librlhf4j.so or set " + ENVIRONMENT);
    }
    return bestVariant(root, Files.exists(Path.of("/proc/driver/nvidia/gpus")));
  }

  private static Path existing(Path p, String source) {
    if (!Files.isRegularFile(p)) {
      throw new NativeLibraryException("rlhf4j native library not found at " + p + " (from " + source
          + "); build it with scripts/test or point " + source + " at librlhf4j.so");
    }
    return p;
  }

  /** The native build root recorded by the Maven build, or null. */
  private static Path buildRoot() {
    try (InputStream in = NativeLibrary.class.getResourceAsStream("/rlhf4j-build.properties")) {
      if (in == null) return null;
      Properties p = new Properties();
      p.load(in);
      String root = p.getProperty("native.root");
      return root == null || root.isBlank() || root.contains("${") ? null : Path.of(root);
    } catch (IOException e) {
      return null;
    }
  }

  /** Picks the variant directory under root holding librlhf4j.so: cuda* when a GPU is seen. */
  static Path bestVariant(Path root, boolean gpuVisible) {
    List<Path> variants;
    try (Stream<Path> dirs = Files.isDirectory(root) ? Files.list(root) : Stream.empty()) {
      variants = dirs.filter(d -> Files.isRegularFile(d.resolve("librlhf4j.so")))
          .sorted(Comparator.comparing(Path::toString))
          .toList();
    } catch (IOException e) {
      throw new NativeLibraryException("cannot list native builds under " + root + ": " + e.getMessage());
    }
    if (gpuVisible) {
      for (Path v : variants) {
        if (v.getFileName().toString().startsWith("cuda")) return v.resolve("librlhf4j.so");
      }
    }
    for (Path v : variants) {
      if (v.getFileName().toString().equals("cpu")) return v.resolve("librlhf4j.so");
    }
    if (!variants.isEmpty()) return variants.get(0).resolve("librlhf4j.so");
    throw new NativeLibraryException("no native library built under " + root
        + ": run scripts/test (or mvn verify) to build it, or pass -D" + PROPERTY + "=PATH");
  }

  /** RLHF4J_THREADS, else 0: one intra-op thread per core (libgomp may default to one). */
  private static int threadsFromEnvironment() {
    String t = System.getenv("RLHF4J_THREADS");
    if (t == null || t.isBlank()) return 0;
    try {
      return Math.max(0, Integer.parseInt(t.trim()));
    } catch (NumberFormatException e) {
      throw new NativeLibraryException("RLHF4J_THREADS must be a whole number, got '" + t + "'");
    }
  }

  private static Native load(Path path) {
    try {
      System.load(path.toAbsolutePath().toString());
    } catch (UnsatisfiedLinkError e) {
      String why = String.valueOf(e.getMessage()).lines().findFirst().orElse("unknown reason");
      throw new NativeLibraryException("cannot load the rlhf4j native library " + path + ": " + why
          + " (is libtorch installed? scripts/test installs it)");
    }
    Native lib;
    try {
      lib = new Native(SymbolLookup.loaderLookup());
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw new NativeLibraryException("cannot bind the rlhf4j native library " + path + ": " + e.getMessage());
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
      lib.abiVersion(out);
      int abi = out.get(ValueLayout.JAVA_INT, 0);
      if (abi != ABI_VERSION) {
        throw new NativeLibraryException("the native library " + path + " has ABI version " + abi
            + " but this jar needs " + ABI_VERSION + ": use the library built with this jar");
      }
      MemorySegment size = arena.allocate(ValueLayout.JAVA_LONG);
      for (Object[] entry : Layouts.CHECKED) {
        Struct s = (Struct) entry[1];
        lib.structSize((Integer) entry[0], size);
        long nativeSize = size.get(ValueLayout.JAVA_LONG, 0);
        if (nativeSize != s.layout().byteSize()) {
          throw new NativeLibraryException("the native library " + path + " lays out struct " + entry[0]
              + " in " + nativeSize + " bytes, this jar in " + s.layout().byteSize()
              + ": the library and the jar come from different builds");
        }
      }
    }
    lib.setNumThreads(threadsFromEnvironment());
    return lib;
  }
}
