#!/usr/bin/env bash
# Builds sam4j's CPU stand-ins for the CUDA libraries into OUTDIR (Maven runs it in process-test-classes).
#
#   build.sh OUTDIR [SKIP]
#
# Each library gets the real soname and a version node named after it, as the real libraries have:
# JavaCPP's JNI libraries bind to versioned symbols (e.g. cudaMalloc@libcudart.so.13). Maven runs the
# cuda-stand-in test execution after this, so a stand-in that cannot be built is an error (exit 1, saying
# what is missing), never a quiet run of skipped tests. SKIP=true (Maven: -Dsam4j.cuda.skipStandIn=true,
# which also skips that execution) builds nothing and says so. CC names the C compiler (default gcc),
# CUDA_HOME the CUDA 13 toolkit whose headers the stand-ins compile against (default /usr/local/cuda).
set -euo pipefail
out=${1:?usage: build.sh OUTDIR [SKIP]}
if [ "${2:-false}" = true ]; then
  echo "[sam4j] CUDA stand-in not built (-Dsam4j.cuda.skipStandIn=true): the gpu-tagged tests do not run against it in this build"
  exit 0
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
inc=${CUDA_HOME:-/usr/local/cuda}/include
cc=${CC:-gcc}
missing=()
command -v "$cc" >/dev/null 2>&1 || missing+=("the C compiler $cc")
for h in cuda.h cuda_runtime_api.h; do [ -f "$inc/$h" ] || missing+=("$inc/$h"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[sam4j] cannot build the CUDA stand-in for the cuda-stand-in test run: missing ${missing[*]}." \
       "Install gcc (.ci/run does) and the CUDA 13 toolkit (set CUDA_HOME), or build without that run: -Dsam4j.cuda.skipStandIn=true" >&2
  exit 1
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
  "$cc" -O2 -Wall -Wextra -Werror -Wno-unused-parameter -shared -fPIC -I"$inc" -I"$here" \
      -Wl,-soname,"$so" -Wl,--version-script="$out/$so.map" -o "$out/$so" "$here/$src" "$@"
}
lib libcuda.so.1 driver.c "$here/device.c" "$here/devices.c" -lm -pthread
lib libcudart.so.13 runtime.c -L"$out" -l:libcuda.so.1
lib libcublas.so.13 cublas.c -L"$out" -l:libcuda.so.1
lib libcublasLt.so.13 cublasLt.c
lib libcudnn_graph.so.9 cudnn.c -DLIB_GRAPH -L"$out" -l:libcuda.so.1 -lm
lib libcudnn_ops.so.9 cudnn.c -DLIB_OPS -L"$out" -l:libcuda.so.1 -lm
lib libcudnn_cnn.so.9 cudnn.c -DLIB_CNN -L"$out" -l:libcuda.so.1 -lm
lib libcudnn_adv.so.9 cudnn.c -DLIB_ADV -L"$out" -l:libcuda.so.1 -lm
lib libnccl.so.2 nccl.c -L"$out" -l:libcuda.so.1 -pthread -lrt
echo "[sam4j] CUDA stand-in libraries in $out"
