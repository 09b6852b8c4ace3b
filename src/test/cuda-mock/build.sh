#!/usr/bin/env bash
# Builds sam4j's CPU stand-ins for the CUDA libraries into OUTDIR (Maven runs it in process-test-classes).
#
#   build.sh OUTDIR
#
# Each library gets the real soname and a version node named after it, as the real libraries have:
# JavaCPP's JNI libraries bind to versioned symbols (e.g. cudaMalloc@libcudart.so.13). Without gcc or the
# CUDA headers it says so and builds nothing; the CUDA tests then skip, saying there is no driver.
set -euo pipefail
out=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
inc=${CUDA_HOME:-/usr/local/cuda}/include
if ! command -v gcc >/dev/null 2>&1 || [ ! -f "$inc/cuda.h" ]; then
  echo "[sam4j] CUDA stand-in not built (needs gcc and the CUDA headers in $inc); the CUDA tests will skip"
  exit 0
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ -f "$out/libcuda.so.1" ] && [ -z "$(find "$here" -newer "$out/libcuda.so.1" -print -quit)" ]; then
  exit 0  # up to date
fi
lib() { # lib SONAME SOURCE [extra gcc arguments...]
  local so=$1 src=$2
  shift 2
  echo "$so { global: *; };" > "$out/$so.map"
  gcc -O2 -Wall -Wextra -Werror -Wno-unused-parameter -shared -fPIC -I"$inc" -I"$here" \
      -Wl,-soname,"$so" -Wl,--version-script="$out/$so.map" -o "$out/$so" "$here/$src" "$@"
}
lib libcuda.so.1 driver.c "$here/devices.c" -lm -pthread
lib libcudart.so.13 runtime.c -L"$out" -l:libcuda.so.1
lib libcublas.so.13 cublas.c -L"$out" -l:libcuda.so.1
lib libcublasLt.so.13 cublasLt.c
lib libcudnn_graph.so.9 cudnn.c -DLIB_GRAPH -L"$out" -l:libcuda.so.1 -lm
lib libcudnn_ops.so.9 cudnn.c -DLIB_OPS -L"$out" -l:libcuda.so.1 -lm
lib libcudnn_cnn.so.9 cudnn.c -DLIB_CNN -L"$out" -l:libcuda.so.1 -lm
lib libcudnn_adv.so.9 cudnn.c -DLIB_ADV -L"$out" -l:libcuda.so.1 -lm
echo "[sam4j] CUDA stand-in libraries in $out"
