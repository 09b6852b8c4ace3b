# Shared by the scripts: find a JDK 25 and the project root. Source it; do not run it.
# shellcheck shell=bash

SAM4J_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Prints the home of a JDK 25: $JAVA_HOME if it is one, else the first /usr/lib/jvm/*25*.
find_jdk25() {
  local cand
  for cand in ${JAVA_HOME:+"$JAVA_HOME"} /usr/lib/jvm/*25*; do
    [ -x "$cand/bin/java" ] || continue
    if "$cand/bin/java" -version 2>&1 | head -1 | grep -q 'version "25'; then
      echo "$cand"
      return 0
    fi
  done
  echo "sam4j: no JDK 25 found (looked at JAVA_HOME=${JAVA_HOME:-unset} and /usr/lib/jvm/*25*); install one, e.g. Temurin 25, and set JAVA_HOME" >&2
  return 1
}

# JVM flags every sam4j process needs (Vector API incubator module, native access for CUDA later).
SAM4J_JVM_FLAGS=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED)
