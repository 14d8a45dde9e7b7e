package org.rlhf4j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PathPolicyTest {
  @TempDir Path dir;

  @Test
  void pathsResolveAsTheOsWouldReachThem() throws IOException {
    Path root = Files.createDirectories(dir.resolve("root/a/b"));
    Path outside = Files.createDirectories(dir.resolve("outside/x"));
    PathPolicy policy = new PathPolicy(List.of(dir.resolve("root")));
    Path real = dir.resolve("root").toRealPath();

    assertEquals(real.resolve("a/b"), policy.check("k", root));
    assertEquals(real.resolve("a/new/file"), policy.check("k", dir.resolve("root/a/b/../new/file")),
        "a path not there yet keeps its names");
    assertThrows(ForbiddenPathException.class, () -> policy.check("k", dir.resolve("root/../outside")));
    assertThrows(ForbiddenPathException.class, () -> policy.check("k", Path.of("/etc/passwd")));

    // A link out, a relative link out, a chain of links, and ".." after a link (the link's parent).
    Files.createSymbolicLink(dir.resolve("root/out"), outside);
    Files.createSymbolicLink(dir.resolve("root/a/rel"), Path.of("../../outside/x"));
    Files.createSymbolicLink(dir.resolve("root/a/chain"), Path.of("rel"));
    Files.createSymbolicLink(dir.resolve("root/in"), Path.of("a/b"));
    for (String p : List.of("root/out", "root/out/new", "root/a/rel", "root/a/chain/y", "root/in/../../../outside")) {
      ForbiddenPathException e = assertThrows(ForbiddenPathException.class, () -> policy.check("data.prompts",
          dir.resolve(p)), p);
      assertTrue(e.getMessage().startsWith("data.prompts: "), e.getMessage());
    }
    assertEquals(real.resolve("a/b"), policy.check("k", dir.resolve("root/in")));
    // root/in is root/a/b, so root/in/.. is root/a, not root.
    assertEquals(real.resolve("a"), policy.check("k", dir.resolve("root/in/..")));
    Files.createSymbolicLink(dir.resolve("root/loop"), Path.of("loop"));
    assertThrows(ForbiddenPathException.class, () -> policy.check("k", dir.resolve("root/loop")));
  }
}
