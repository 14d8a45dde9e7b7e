# Shared by the scripts: locate the repo and a JDK >= 22, install what is missing,
# and rebuild what is stale. Source it; do not run it.

RLHF4J_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RLHF4J_JAR="$RLHF4J_ROOT/target/rlhf4j.jar"
RLHF4J_VARIANT="${RLHF4J_VARIANT:-cpu}"
RLHF4J_LIB="$RLHF4J_ROOT/build/native/$RLHF4J_VARIANT/librlhf4j.so"

# System packages the CPU build, its tests and its reports need (Debian names).
RLHF4J_PACKAGES=(
  cmake g++ make
  libtorch-dev libgloo-dev libopenblas0-openmp libdnnl-dev
  libgtest-dev
  maven
  fontconfig fonts-dejavu-core
)
# Only the tests need these (the dashboard's browser test; torchrun for the data-parallel test;
# jinja2, node and npm for the chat-template references): scripts/test adds them.
RLHF4J_TEST_PACKAGES=(chromium chromium-driver python3-torch python3-jinja2 nodejs)
# NodeSource's nodejs carries npm and conflicts with Debian's npm: ask for npm only when missing.
command -v npm >/dev/null 2>&1 || RLHF4J_TEST_PACKAGES+=(npm)

say() { echo "rlhf4j: $*" >&2; }
die() { say "$*"; exit 1; }

# A JDK >= 22 (the final FFM API): JAVA_HOME if it qualifies, else the newest under /usr/lib/jvm.
find_jdk() {
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  for d in /usr/lib/jvm/*; do [ -d "$d" ] && candidates+=("$d"); done
  local best="" best_version=0
  for home in "${candidates[@]}"; do
    [ -x "$home/bin/javac" ] || continue
    local v
    v=$("$home/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1)
    v=${v%%.*}
    if [ -n "$v" ] && [ "$v" -ge 22 ] && [ "$v" -gt "$best_version" ]; then
      best="$home"
      best_version=$v
    fi
  done
  if [ -z "$best" ]; then
    die "no JDK >= 22 found (looked at JAVA_HOME and /usr/lib/jvm/*). Install one, e.g. Temurin 25, and set JAVA_HOME."
  fi
  export JAVA_HOME="$best"
  export PATH="$JAVA_HOME/bin:$PATH"
  # Maven 3.8's Guice warns about sun.misc.Unsafe on JDK 24+; it is harmless.
  if [ "$best_version" -ge 24 ]; then
    export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
  fi
}

missing_packages() {
  local missing=()
  for p in "${RLHF4J_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  echo "${missing[@]}"
}

# Installs missing system packages with apt when root; otherwise says what to install.
ensure_packages() {
  command -v dpkg-query >/dev/null 2>&1 || { say "not a Debian system: install libtorch (1.13+), OpenBLAS, GoogleTest, CMake and Maven yourself"; return 0; }
  local missing
  missing=$(missing_packages)
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" = 0 ]; then
    say "installing system packages: $missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null || die "apt-get update failed"
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing >/dev/null || die "apt-get install $missing failed"
  else
    die "missing system packages: $missing (run: sudo apt-get install $missing)"
  fi
}

# Java or native sources newer than the jar (or no jar, or no library): rebuild.
build_if_stale() {
  local stale=0
  if [ ! -f "$RLHF4J_JAR" ] || [ ! -f "$RLHF4J_LIB" ]; then
    stale=1
  elif [ -n "$(find "$RLHF4J_ROOT/pom.xml" "$RLHF4J_ROOT/java/src/main" "$RLHF4J_ROOT/native" "$RLHF4J_ROOT/cmake" \
      -newer "$RLHF4J_JAR" -type f -print -quit 2>/dev/null)" ]; then
    stale=1
  fi
  if [ "$stale" = 1 ]; then
    say "building (native library and jar)..."
    (cd "$RLHF4J_ROOT" && mvn -q -B package -DskipTests -Drlhf4j.skipNativeTests=true -Drlhf4j.variant="$RLHF4J_VARIANT") >&2 || die "build failed"
  fi
}

# RLHF4J_NO_SETUP=1 (scripts/device-check, which builds its own variant): use the jar and
# library as they are, installing and rebuilding nothing.
prepare() {
  if [ "${RLHF4J_NO_SETUP:-0}" = 1 ]; then
    find_jdk
    [ -f "$RLHF4J_JAR" ] || die "no jar at $RLHF4J_JAR (RLHF4J_NO_SETUP=1 builds nothing)"
    return 0
  fi
  ensure_packages
  find_jdk
  build_if_stale
}
