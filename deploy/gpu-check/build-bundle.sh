#!/usr/bin/env bash
# Builds the self-contained GPU check bundle in .gpu-bundle/ at the repo root (git-ignored):
#   jre.tar.xz  a jlink'd Java 17 runtime with only the modules the jars need (xz-packed)
#   lib/        runtime jars of nccl-native and runtime and their dependencies, the actors jar alone, the bytedeco
#               cuda linux-x86_64 JNI jar (no cuda-redist: the GPU machine's CUDA/NCCL libraries are used)
#   test-lib/   test classes of nccl-native and runtime as jars, the actors GPU tests, test-only dependencies
#   tools/      junit-platform-console-standalone
#   BUNDLE.txt  what was built from which commit, and the main classes present
# The GPU machine needs no Java and no network: deploy/gpu-check/run-gpu-check.sh runs from it.
#
# Usage (repo root or anywhere): bash deploy/gpu-check/build-bundle.sh
# Env: JAVA_HOME (default: the JDK 17 that runs javac), MVN_OFFLINE=1 to add -o to Maven.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUNDLE="$ROOT/.gpu-bundle"
JUNIT_PLATFORM_VERSION="1.14.1" # matches junit-jupiter 5.14.1 of the parent pom
MAX_MB=60

cd "$ROOT"

log() { printf '[build-bundle] %s\n' "$*"; }

# ---- JDK with jmods (jlink needs them; Debian ships them in a separate package) ----------------
if [[ -z "${JAVA_HOME:-}" ]]; then
  JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
fi
if [[ ! -d "$JAVA_HOME/jmods" ]]; then
  log "no jmods in $JAVA_HOME; installing openjdk-17-jmods"
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jmods >/dev/null
  fi
  if [[ ! -d "$JAVA_HOME/jmods" && -d /usr/lib/jvm/java-17-openjdk-amd64/jmods ]]; then
    JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
  fi
  [[ -d "$JAVA_HOME/jmods" ]] || { echo "jlink needs $JAVA_HOME/jmods (install openjdk-17-jmods)" >&2; exit 1; }
fi
export JAVA_HOME
"$JAVA_HOME/bin/java" -version 2>&1 | grep -q 'version "17' ||
  { echo "JAVA_HOME=$JAVA_HOME is not a JDK 17" >&2; exit 1; }

MVN=(./mvnw -B -q)
if [[ "${MVN_OFFLINE:-0}" == "1" ]]; then MVN+=(-o); fi

rm -rf "$BUNDLE"
mkdir -p "$BUNDLE/lib" "$BUNDLE/test-lib" "$BUNDLE/tools"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT

# ---- 1. build jars and collect dependencies (one reactor run: siblings resolve from target/) ---
log "building nccl-native and runtime (tests compiled, not run)"
"${MVN[@]}" -pl nccl-native,runtime -am package \
  org.apache.maven.plugins:maven-dependency-plugin:copy-dependencies \
  -DskipTests -Dspotless.check.skip=true \
  -DincludeScope=runtime -DoutputDirectory="$BUNDLE/lib" -Dmdep.overWriteSnapshots=true

# The actors jar alone (no Pekko, gRPC or journal jars: they would break the size budget): the
# GPU StepRunner's test touches only its Pekko-free classes (engine/CudaStepRunner, EngineStepRunner,
# JobSpecs, RankBatches, worker/StepRunner, MeshAssignment, Rendezvous, WorkerInfo).
log "packaging actors (its jar only)"
"${MVN[@]}" -pl actors -am package -DskipTests -Dspotless.check.skip=true

log "collecting test-only dependencies"
# `package` again (up to date, so quick): without a lifecycle phase the reactor cannot resolve the
# sibling modules (shoal-proto, shoal-nccl-native) and the goal fails unless they were installed.
"${MVN[@]}" -pl nccl-native,runtime -am package -DskipTests -Dspotless.check.skip=true \
  org.apache.maven.plugins:maven-dependency-plugin:copy-dependencies \
  -DincludeScope=test -DexcludeGroupIds=org.junit,org.junit.jupiter,org.junit.platform,org.junit.vintage,org.opentest4j,org.apiguardian \
  -DoutputDirectory="$STAGE/test-deps" -Dmdep.overWriteSnapshots=true
for j in "$STAGE"/test-deps/*.jar; do
  [[ -e "$j" ]] || continue
  name="$(basename "$j")"
  case "$name" in shoal-*) continue ;; esac # our own modules come from target/
  [[ -e "$BUNDLE/lib/$name" ]] || cp "$j" "$BUNDLE/test-lib/"
done

# Our module jars (copy-dependencies already brought the siblings runtime depends on).
for m in nccl-native runtime proto; do
  for j in "$m"/target/shoal-*.jar; do
    [[ -e "$j" ]] || continue
    case "$j" in *-sources.jar | *-tests.jar | *-javadoc.jar) continue ;; esac
    cp "$j" "$BUNDLE/lib/"
  done
done
# Never ship cuda-redist (hundreds of MB of CUDA libraries); the GPU machine has its own.
rm -f "$BUNDLE"/lib/cuda-*-redist*.jar "$BUNDLE"/lib/*-redist-*.jar
# Only linux-x86_64 natives are useful on the GPU machine.
find "$BUNDLE/lib" \( -name '*-linux-arm64.jar' -o -name '*-linux-ppc64le.jar' -o -name '*-macosx-*.jar' \
  -o -name '*-windows-*.jar' \) -delete

# Slim the two big native jars to what the code loads (keeps the bundle under its size budget):
#   cuda:     JNI stubs of cudart (+ driver API), cuBLAS, NVRTC and NCCL only (no npp, cudnn, cusparse, ...)
#   openblas: the openblas_nolapack binding the engine uses, with libopenblas and its Fortran runtime;
#             drop the LAPACK bindings (libjniopenblas.so, libjniopenblas_full.so) and the C headers.
#             If the engine ever loads org.bytedeco.openblas.global.openblas or openblas_full, keep them.
repack() { # jar, then paths inside it to delete
  local jar="$1"
  shift
  local dir
  dir="$STAGE/repack-$(basename "$jar")"
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && "$JAVA_HOME/bin/jar" --extract --file "$jar")
  local p
  for p in "$@"; do rm -rf "${dir:?}/$p"; done
  rm -f "$jar"
  "$JAVA_HOME/bin/jar" --create --file "$jar" -C "$dir" .
}
for jar in "$BUNDLE"/lib/cuda-*-linux-x86_64.jar; do
  [[ -e "$jar" ]] || continue
  drop=()
  while IFS= read -r entry; do
    case "$entry" in
      */libjnicudart.so | */libjnicublas.so | */libjninccl.so | */libjninvrtc.so) ;;
      org/bytedeco/cuda/linux-x86_64/*.so) drop+=("$entry") ;;
    esac
  done < <("$JAVA_HOME/bin/jar" --list --file "$jar")
  repack "$jar" "${drop[@]}"
done
for jar in "$BUNDLE"/lib/openblas-*-linux-x86_64.jar; do
  [[ -e "$jar" ]] || continue
  repack "$jar" org/bytedeco/openblas/linux-x86_64/libjniopenblas.so \
    org/bytedeco/openblas/linux-x86_64/libjniopenblas_full.so org/bytedeco/openblas/linux-x86_64/include
done

# ---- 2. test classes as jars ------------------------------------------------------------------
for m in nccl-native runtime; do
  if [[ -d "$m/target/test-classes" ]]; then
    "$JAVA_HOME/bin/jar" --create --file "$BUNDLE/test-lib/shoal-$m-tests.jar" -C "$m/target/test-classes" .
  fi
done
# From actors only its GPU test classes and the helpers they use (the launcher scans this jar, and the
# other actors tests need Pekko, which the bundle does not carry).
for j in actors/target/shoal-actors-*.jar; do
  case "$j" in *-sources.jar | *-tests.jar | *-javadoc.jar) continue ;; esac
  cp "$j" "$BUNDLE/lib/"
done
ACTORS_GPU_TESTS=(-C actors/target/test-classes dev/shoal/actors/TestData.class) # jar's -C holds for one file
while IFS= read -r c; do ACTORS_GPU_TESTS+=(-C actors/target/test-classes "${c#actors/target/test-classes/}"); done < <(
  find actors/target/test-classes/dev/shoal/actors -name '*GpuTest*.class' | sort)
if ((${#ACTORS_GPU_TESTS[@]} > 3)); then
  "$JAVA_HOME/bin/jar" --create --file "$BUNDLE/test-lib/shoal-actors-gpu-tests.jar" "${ACTORS_GPU_TESTS[@]}"
fi

# The actors engine classes log through SLF4J: ship its API and the no-op binding (the bundle has no
# Pekko, whose slf4j binding the real node uses), at the version the parent pom pins.
SLF4J_VERSION="$(sed -n 's:.*<slf4j.version>\(.*\)</slf4j.version>.*:\1:p' pom.xml | head -1)"
for a in slf4j-api slf4j-nop; do
  "${MVN[@]}" -N org.apache.maven.plugins:maven-dependency-plugin:copy \
    -Dartifact="org.slf4j:$a:$SLF4J_VERSION" -DoutputDirectory="$BUNDLE/test-lib"
done

# ---- 3. JUnit console launcher -----------------------------------------------------------------
log "fetching junit-platform-console-standalone $JUNIT_PLATFORM_VERSION"
"${MVN[@]}" -N org.apache.maven.plugins:maven-dependency-plugin:copy \
  -Dartifact="org.junit.platform:junit-platform-console-standalone:$JUNIT_PLATFORM_VERSION" \
  -DoutputDirectory="$BUNDLE/tools"

# ---- 4. jlink'd JRE ----------------------------------------------------------------------------
BASE_MODULES="java.base,java.logging,java.xml,java.management,jdk.unsupported,jdk.zipfs" # + jdeps; zipfs: JUnit scans jars
log "computing Java modules with jdeps"
set +e
# Not the actors jar: its Pekko/HTTP parts never run here and would pull in java.desktop and more.
mapfile -t OWN_JARS < <(find "$BUNDLE/lib" "$BUNDLE/test-lib" -name 'shoal-*.jar' ! -name 'shoal-actors-*' | sort)
DEPS="$("$JAVA_HOME/bin/jdeps" --print-module-deps --ignore-missing-deps --multi-release 17 \
  --class-path "$BUNDLE/lib/*:$BUNDLE/test-lib/*:$BUNDLE/tools/*" \
  "${OWN_JARS[@]}" 2>/dev/null | tail -1)"
set -e
MODULES="$BASE_MODULES"
if [[ "$DEPS" =~ ^[a-z.,]+$ ]]; then MODULES="$MODULES,$DEPS"; fi
MODULES="$(tr ',' '\n' <<<"$MODULES" | sort -u | paste -sd, -)"
log "jlink modules: $MODULES"
# The JRE travels as jre.tar.xz (about 12 MB instead of 35 MB unpacked: xz shrinks libjvm.so and an
# uncompressed module image far better than jlink's zip); run-gpu-check.sh unpacks it to a temp dir.
"$JAVA_HOME/bin/jlink" --module-path "$JAVA_HOME/jmods" --add-modules "$MODULES" \
  --strip-debug --no-header-files --no-man-pages --compress=0 --output "$STAGE/jre"
# libjvm.so ships with its symbol table; the JVM does not need it.
if command -v strip >/dev/null 2>&1; then
  chmod u+w "$STAGE/jre/lib/server/libjvm.so"
  strip --strip-unneeded "$STAGE/jre/lib/server/libjvm.so"
fi
"$STAGE/jre/bin/java" -version >/dev/null 2>&1 || { echo "the jlink'd JRE does not start" >&2; exit 1; }
log "compressing the JRE (xz)"
XZ_OPT="-6 -T0" tar -C "$STAGE" -cJf "$BUNDLE/jre.tar.xz" jre

# ---- 5. manifest and size check ----------------------------------------------------------------
has_class() { # jar-glob class-path-inside-jar
  local j
  for j in "$BUNDLE"/lib/shoal-*.jar; do
    if "$JAVA_HOME/bin/jar" --list --file "$j" | grep -qx "$1"; then return 0; fi
  done
  return 1
}
{
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (dirty)')"
  echo "jre modules: $MODULES"
  for c in dev/shoal/nccl/GpuBench.class dev/shoal/cuda/kernels/KernelBench.class \
    dev/shoal/runtime/cuda/CudaLayerBench.class dev/shoal/runtime/bench/CollectiveBench.class; do
    if has_class "$c"; then echo "main: ${c%.class}" | tr '/' '.'; fi
  done
  echo "lib:"
  (cd "$BUNDLE/lib" && ls -1)
  echo "test-lib:"
  (cd "$BUNDLE/test-lib" && ls -1)
} >"$BUNDLE/BUNDLE.txt"

SIZE_MB="$(du -sm "$BUNDLE" | cut -f1)"
log "bundle: $BUNDLE, ${SIZE_MB} MB (jre.tar.xz $(du -sm "$BUNDLE/jre.tar.xz" | cut -f1) MB, lib $(du -sm "$BUNDLE/lib" | cut -f1) MB, test-lib $(du -sm "$BUNDLE/test-lib" | cut -f1) MB, tools $(du -sm "$BUNDLE/tools" | cut -f1) MB)"
echo "size: ${SIZE_MB} MB" >>"$BUNDLE/BUNDLE.txt"
if ((SIZE_MB > MAX_MB)); then
  echo "bundle is ${SIZE_MB} MB, over the ${MAX_MB} MB budget; largest jars:" >&2
  du -s "$BUNDLE"/lib/* "$BUNDLE"/test-lib/* | sort -rn | head -10 >&2
  exit 1
fi
