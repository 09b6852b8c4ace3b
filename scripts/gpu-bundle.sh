#!/usr/bin/env bash
# Builds the self-contained GPU check bundle: one folder (< 60 MiB) that runs on a GPU host with no JDK,
# Maven or network: OUTDIR/gpu-check.sh RESULTDIR.
#
#   scripts/gpu-bundle.sh OUTDIR        (extra Maven flags in MVN_ARGS, e.g. -o)
#
# OUTDIR/
#   gpu-check.sh  BUNDLE.txt
#   jre/            jlink'd Java 25: java.base, java.desktop, java.logging, java.management, java.xml,
#                   jdk.management, jdk.unsupported, jdk.incubator.vector; stripped, and its largest file,
#                   lib/server/libjvm.so, gzipped (gpu-check.sh unpacks it before first use)
#   lib/sam4j.jar   the project (shaded: javacpp + the CUDA presets with only the cudart, cublas, cudnn, nccl and
#                   nvrtc JNI libraries, the kernels' fatbin)
#   lib/junit-platform-console-standalone.jar
#   test-classes/   the project's test classes (the gpu-tagged tests, the benchmark)
# Needs a JDK 25 with jlink (JAVA_HOME or /usr/lib/jvm/*25*), Maven, nvcc (or the jar has no kernels:
# refused), binutils' strip.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
out=${1:?usage: gpu-bundle.sh OUTDIR}
MAX_MIB=60
CONSOLE=org.junit.platform:junit-platform-console-standalone:1.14.1
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

die() { echo "gpu-bundle: $*" >&2; exit 1; }
step() { echo "gpu-bundle: $*"; }

JAVA_HOME=$(find_jdk25) || exit 1
export JAVA_HOME
command -v mvn >/dev/null || die "Maven (mvn) not found"
command -v strip >/dev/null || die "strip (binutils) not found"
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  [ -f "$out/BUNDLE.txt" ] || die "$out exists, is not empty and is not a previous bundle"
  rm -rf "${out:?}"/*
fi
mkdir -p "$out/lib"
out=$(cd "$out" && pwd)

step "building the project (mvn package, tests skipped: run them with scripts/test)"
# shellcheck disable=SC2086  # MVN_ARGS is a list of flags
(cd "$SAM4J_ROOT" && mvn -B -q ${MVN_ARGS:-} -DskipTests package) || die "the build failed"
jar=$SAM4J_ROOT/target/sam4j.jar
"$JAVA_HOME/bin/jar" tf "$jar" | grep -q 'dev/sam4j/backend/cuda/kernels.fatbin' \
  || die "$jar has no GPU kernels (built without nvcc?): install the CUDA 13 toolkit and rebuild"
cp "$jar" "$out/lib/sam4j.jar"
cp -r "$SAM4J_ROOT/target/test-classes" "$out/test-classes"

step "resolving $CONSOLE"
# shellcheck disable=SC2086
(cd "$SAM4J_ROOT" && mvn -B -q ${MVN_ARGS:-} "$DEPENDENCY_PLUGIN:copy" -Dartifact="$CONSOLE" -DoutputDirectory="$out/lib" \
   -Dmdep.stripVersion=true) || die "Maven could not resolve $CONSOLE"

step "jlink: Java 25 runtime"
# java.desktop (javax.imageio, java.awt.image) so that imagefolder: data and the PNGs (plots, eval's
# confusion.png) work on the GPU host too. It takes the runtime from 44 to 58 MiB; gzipping libjvm.so,
# the largest file by far, brings the bundle back under its limit (gpu-check.sh unpacks it).
"$JAVA_HOME/bin/jlink" --add-modules java.base,java.desktop,java.logging,java.management,java.xml,jdk.management,jdk.unsupported,jdk.incubator.vector \
  --strip-debug --no-man-pages --no-header-files --compress=zip-9 --output "$out/jre"
find "$out/jre" -name '*.so' -exec strip --strip-unneeded {} +
"$out/jre/bin/java" -version >/dev/null 2>&1 || die "the jlink'd runtime does not start"
runtime_version=$("$out/jre/bin/java" -version 2>&1 | head -1)
gzip -9 "$out/jre/lib/server/libjvm.so" || die "cannot gzip $out/jre/lib/server/libjvm.so"

cp "$here/gpu-check.sh" "$out/gpu-check.sh"
cp "$here/bench-gpu-step" "$out/bench-gpu-step"
cp "$here/bench-gpu-precision" "$out/bench-gpu-precision"
mkdir -p "$out/peers"
cp "$here/peers/pytorch_gpu_step.py" "$here/peers/pytorch_sam.py" "$here/peers/precision_report.py" "$out/peers/"
chmod +x "$out/gpu-check.sh" "$out/bench-gpu-step" "$out/bench-gpu-precision"
{
  echo "sam4j GPU check bundle, built $(date -u +%Y-%m-%dT%H:%MZ) from $(cd "$SAM4J_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "java runtime: $runtime_version (jlink'd; lib/server/libjvm.so gzipped, unpacked by gpu-check.sh)"
  echo "kernels: $(unzip -p "$jar" dev/sam4j/backend/cuda/kernels.txt 2>/dev/null || echo '?')"
} > "$out/BUNDLE.txt"

bytes=$(du -sb "$out" | cut -f1)
mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "gpu-bundle: $out is $mib MiB (limit $MAX_MIB MiB)"
awk -v b="$bytes" -v max="$MAX_MIB" 'BEGIN { exit !(b < max * 1048576) }' || die "bundle not under $MAX_MIB MiB"
echo "gpu-bundle: done; on the GPU host run $out/gpu-check.sh RESULTDIR"
