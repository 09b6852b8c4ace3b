#!/usr/bin/env bash
# Runs sam4j's GPU checks on a GPU host from the bundle alone (scripts/gpu-bundle.sh makes it; this script
# is copied into it). Needs only the NVIDIA driver and the CUDA 13 / cuDNN 9 libraries (e.g. PyTorch's
# nvidia-* wheels).
#
#   BUNDLE/gpu-check.sh RESULTDIR
#   BUNDLE/gpu-check.sh --lib-dirs ROOT   (prints the library folders a search of ROOT finds, then exits)
#
# 1. finds the CUDA libraries (Python nvidia-* wheels, else a search of /, else /usr/local/cuda/lib64),
#    never sam4j's own CPU stand-ins (a build's target/cuda-mock has libcudart.so.13 and libcublas.so.13 too);
# 2. prints the GPU, driver, runtime and cuDNN versions (exit 2, with the reason, if there is no GPU);
# 3. runs every gpu-tagged test (JUnit console launcher; XML reports in RESULTDIR/junit); the summary counts,
#    per class, those that check on the GPU what the stand-ins only emulate (the device step's kernels and skips
#    against the host: CudaKernelsTest, HostDeviceStepAgreementTest, DeviceSkipTest, StepGraphTest; device
#    memory by cudaMemGetInfo and the input pipeline's ordering: CudaMemoryFlatTest, CudaInputPipelineTest,
#    CudaCheckpointTest; --precision tf32 and bf16 against the CPU emulation: CudaPrecisionTest, and bf16's native
#    16-bit storage op by op (cuBLAS and cuDNN in bf16, the bf16 kernels): CudaNativeBf16Test; channels-last
#    (--image-layout nhwc): cuDNN's NHWC kernels and the permutation kernel against the NCHW reference,
#    CudaChannelsLastTest, and the NHWC cases of CudaConvnetTrainingTest and StepGraphTest);
# 4. runs the benchmark: kernel bandwidth over an 11M-float arena and over arrays of 4x the device's L2 size,
#    each as a fraction of a device-to-device copy and of the theoretical bandwidth (memory clock x bus width
#    x 2), and ms/step of the mlp for ERM, SAM and AE-SAM on the host path and the graph path
#    (RESULTDIR/bench.json, bench.txt);
#    Then bench-gpu-step: ResNet-18 at batch 128 (ERM, SAM, AE-SAM, LookSAM, AE-LookSAM) on sam4j's graph path
#    and in the host's PyTorch, with the ratios (RESULTDIR/resnet18.{json,txt}, pytorch.json, resnet-bench.txt);
#    the PyTorch half is skipped, saying so, where python3 or torch is missing;
# 5. trains the mlp with AE-SAM on the embedded Fashion-MNIST sample on each CUDA step path, the cnn with
#    AE-SAM on the graph path, ResNet-18 through the input pipeline against --input synthetic, ResNet-18 in
#    TF32 in NCHW against channels-last (NHWC), and the cnn
#    with AE-SAM in fp32 and in bf16 over seeds 1-3 (RESULTDIR/train.txt, precision-train.txt);
# 6. first-contact checks (RESULTDIR/contact.txt): the device's compute capability against the kernels'
#    targets; --device auto with a convnet takes the GPU, and with cuDNN hidden from the library path takes
#    the CPU saying why while an explicit cuda refuses in one line; cuda:1 on a host with two GPUs; and the
#    results of the gpu tests that check these (KernelImageTest, CudnnProbeTest, CudaDeviceThreadsTest,
#    DeterministicCudnnTest: a --deterministic convnet run resumed bit for bit);
# 7. the mixed-precision benchmark (bench-gpu-precision): ResNet-18 and WRN-28-10 at batch 128, ERM, SAM and
#    AE-SAM, `sam4j bench --precision fp32|tf32|bf16` (fp32 only, saying so, where sam4j has no --precision),
#    at tf32 and bf16 also channels-last (--image-layout nhwc; the rows take sam4j's faster layout, named)
#    against PyTorch's configurations (NCHW / channels_last eager at each precision, bf16 AMP autocast,
#    channels_last under torch.compile), each sam4j row against PyTorch's fastest configuration of its
#    precision, named, with the peak device memory of both and the bf16 targets (RESULTDIR/precision.{md,json});
#    short timings (2 warm-up + 8 timed steps), in what is left of the run's budget (GPU_CHECK_BUDGET, default
#    570 s, the GPU machine's one ~10-minute command; at most GPU_CHECK_PRECISION_TIMEOUT, default 300 s: sam4j in NCHW and, at tf32 and bf16, NHWC),
#    skipped, saying so, where under 60 s are left; GPU_CHECK_PRECISION_FIRST=1 runs it right after the tests
#    instead (then with PRECISION_TIMEOUT whatever the budget); GPU_CHECK_TESTS_ONLY=1 runs step 3 alone, then 8;
# 7b. NCCL (RESULTDIR/nccl.txt): the NCCL this host has; one rank on NCCL against the single-GPU step
#    (NcclOneRankTest in the test run: the same weights bit for bit, ms/step of both); two launched ranks on the CUDA
#    graph step (--sam-perturbation local, the default: collectives recorded in the graph's main body) that must end
#    with the same weights digest and SAM decisions on both ranks, then the same on the host-driven step
#    (--cuda-step host), which must end with the graph step's weights and decisions; on two GPUs where there are two,
#    else on one GPU only where NCCL is 2.30 or newer (NCCL_MULTI_RANK_GPU_ENABLE=1, experimental), else it says why not;
# 8. ends with a one-screen summary (RESULTDIR/summary.txt). Everything also goes to RESULTDIR/gpu-check.log.
# Exit status: 0 all passed, 1 a test or the benchmark failed, 2 no usable GPU, 3 bundle incomplete,
# 124 a step timed out; 127 or 134 mean the JVM died in native code (a CUDA function newer than the host's?).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bundle=${SAM4J_BUNDLE:-$here}
[ -x "$bundle/jre/bin/java" ] || [ ! -x "$here/../.gpu-bundle/jre/bin/java" ] || bundle=$(cd "$here/../.gpu-bundle" && pwd)

# The bundle ships the JVM's largest file gzipped (jre/lib/server/libjvm.so.gz: it keeps the bundle, with
# java.desktop for imagefolder: data and PNGs, under its size limit); unpacked here once before first use.
# In place when the bundle is writable, else in a temporary copy of the bundle (then $bundle names it).
unpack_runtime() {
  local server="$bundle/jre/lib/server"
  [ -f "$server/libjvm.so.gz" ] || return 0
  if [ ! -w "$server" ]; then
    local copy
    copy=$(mktemp -d "${TMPDIR:-/tmp}/sam4j-bundle.XXXXXX") || return 3
    cp -R "$bundle/." "$copy/" || { echo "gpu-check: cannot copy the read-only bundle $bundle to $copy"; return 3; }
    chmod -R u+w "$copy"
    echo "gpu-check: $bundle is read-only; unpacking the runtime in a copy, $copy"
    bundle=$copy
    server="$bundle/jre/lib/server"
  fi
  gzip -dc "$server/libjvm.so.gz" > "$server/libjvm.so.part" \
    && mv "$server/libjvm.so.part" "$server/libjvm.so" && rm -f "$server/libjvm.so.gz" \
    || { rm -f "$server/libjvm.so.part"; echo "gpu-check: cannot unpack $server/libjvm.so.gz"; return 3; }
}
TEST_TIMEOUT=${GPU_CHECK_TEST_TIMEOUT:-200}
BENCH_TIMEOUT=${GPU_CHECK_BENCH_TIMEOUT:-120}
RESNET_TIMEOUT=${GPU_CHECK_RESNET_TIMEOUT:-240}
PRECISION_TIMEOUT=${GPU_CHECK_PRECISION_TIMEOUT:-300}
BUDGET=${GPU_CHECK_BUDGET:-570}

lib_dirs=()
add_dirs() {
  local d
  for d in "$@"; do [ -d "$d" ] && lib_dirs+=("$d"); done
  return 0
}

# sam4j's CPU stand-ins for the CUDA libraries (src/test/cuda-mock, built into a build's target/cuda-mock)
# carry the real sonames; on a GPU host they must never be mistaken for CUDA. Each one carries this mark.
is_stand_in() { grep -qaE 'sam4j_cuda_stand_in|sam4j_nccl_stand_in|CUDA stand-in: |NCCL stand-in: ' "$1" 2>/dev/null; }

# Adds the folders under $1 that hold the CUDA 13 runtime, cuBLAS 13 or cuDNN 9, skipping the stand-ins.
search_cuda_libs() {
  local file
  while IFS= read -r file; do
    if is_stand_in "$file"; then
      echo "gpu-check: skipping $(dirname "$file"): sam4j's CPU stand-ins for the CUDA libraries, not CUDA" >&2
      continue
    fi
    add_dirs "$(dirname "$file")"
  done < <(timeout 60 find "$1" \( -path /proc -o -path /sys -o -path /dev \) -prune -o \
             \( -name libcublas.so.13 -o -name libcudnn.so.9 -o -name libcudart.so.13 -o -name libnccl.so.2 \) -print 2>/dev/null | sort)
}

find_cuda_libs() {
  local py root
  for py in ${VIRTUAL_ENV:+"$VIRTUAL_ENV/bin/python"} python3 python; do
    command -v "$py" >/dev/null 2>&1 || continue
    while IFS= read -r root; do
      add_dirs "$root/cu13/lib" "$root/cudnn/lib" "$root"/*/lib
    done < <("$py" -c 'import nvidia; print("\n".join(nvidia.__path__))' 2>/dev/null)
    [ ${#lib_dirs[@]} -gt 0 ] && return 0
  done
  echo "gpu-check: no Python nvidia-* wheels found; searching / for libcublas.so.13 and libcudnn.so.9"
  search_cuda_libs /
  [ ${#lib_dirs[@]} -gt 0 ] || add_dirs /usr/local/cuda/lib64
}

# Per test class of the gpu test run: how many of its tests passed, failed and were skipped, and the names of the
# failed ones, from the console launcher's tree in $results/tests.txt. test_results LABEL CLASS...
test_results() {
  local label=$1
  shift
  sed 's/\x1b\[[0-9;]*m//g' "$results/tests.txt" | awk -v label="$label" -v classes="$*" '
    { d = index($0, "├─"); if (!d) d = index($0, "└─"); if (!d) next
      n++; depth[n] = d; text[n] = substr($0, d + length("├─ ")) }
    END {
      k = split(classes, want, " ")
      for (c = 1; c <= k; c++) {
        found = 0
        for (i = 1; i <= n && !found; i++) {
          name = text[i]; sub(/ (✔|✘|↷|■).*$/, "", name)
          if (name != want[c]) continue
          found = 1; pass = fail = skip = 0; failed = ""
          for (j = i + 1; j <= n && depth[j] > depth[i]; j++) {
            if (j < n && depth[j + 1] > depth[j]) continue  # a container: count its leaves
            if (text[j] ~ /✘/) { fail++; failed = failed "\n[" label "]   FAILED " text[j] }
            else if (text[j] ~ /↷|■/) skip++  # ↷ disabled, ■ aborted by its own assumption (two GPUs, stand-ins only)
            else if (text[j] ~ /✔/) pass++
          }
          printf "[%s] %s: %d passed, %d failed, %d skipped%s\n", label, want[c], pass, fail, skip, failed
        }
        if (!found) printf "[%s] %s: not in the test run\n", label, want[c]
      }
    }'
}

# First contact with this GPU (kernels, cuDNN, cuda:1, determinism); appends to $results/contact.txt, returns 1 if a check failed.
# Uses java, bundle and results of main.
contact_checks() {
  local rc=0 out="$results/contact.txt" sam4j=("${java[@]}" -jar "$bundle/lib/sam4j.jar")
  : > "$out"
  # 9. compute capability vs the fatbin's targets (KernelImageTest, in the tests above, loads each image alone).
  "${sam4j[@]}" info 2>&1 | grep -E 'kernels:|compute capability' | sed 's/^ */[kernels] /' >> "$out"
  # 10. auto with a convnet takes the GPU where cuDNN 9 is usable...
  timeout --kill-after=10 120 "${sam4j[@]}" train --device auto --model cnn --data fashion-mnist-sample --epochs 1 --max-steps 20 \
    --out "$results/run-auto-cnn" > "$results/train-auto-cnn.log" 2>&1 || rc=1
  grep -E '^backend:' "$results/train-auto-cnn.log" | sed 's/^/[auto cnn] /' >> "$out"
  grep -qE '^backend: cuda' "$results/train-auto-cnn.log" || { echo "[auto cnn] FAILED: auto did not take the GPU" >> "$out"; rc=1; }
  # ... and with cuDNN hidden (its directories taken off LD_LIBRARY_PATH) takes the CPU with the reason, while an
  # explicit cuda refuses in one line. Only where cuDNN has directories of its own and is not in the system path.
  local d nodnn="" hidden="" shared=""
  local -a dirs
  IFS=: read -ra dirs <<< "$LD_LIBRARY_PATH"
  for d in "${dirs[@]}"; do
    if compgen -G "$d/libcudnn*.so.9" > /dev/null; then
      hidden="$hidden $d"
      compgen -G "$d/libcu[bd]*.so.13" > /dev/null && shared="$shared $d"
    else
      nodnn="$nodnn${nodnn:+:}$d"
    fi
  done
  if [ -z "$hidden" ] || ldconfig -p 2>/dev/null | grep -q 'libcudnn.*\.so\.9'; then
    echo "[no cuDNN] skipped: cuDNN is not in a directory of its own on LD_LIBRARY_PATH (or it is in the system library path)" >> "$out"
  elif [ -n "$shared" ]; then
    echo "[no cuDNN] skipped: cuDNN shares a directory with the CUDA runtime or cuBLAS:$shared" >> "$out"
  else
    LD_LIBRARY_PATH="$nodnn" timeout --kill-after=10 120 "${sam4j[@]}" train --device auto --model cnn --data fashion-mnist-sample \
      --epochs 1 --max-steps 2 --out "$results/run-auto-cnn-nodnn" > "$results/train-auto-cnn-nodnn.log" 2>&1 || rc=1
    grep -E '^backend:' "$results/train-auto-cnn-nodnn.log" | sed 's/^/[no cuDNN, auto] /' >> "$out"
    grep -qE '^backend: cpu .*needs cuDNN 9' "$results/train-auto-cnn-nodnn.log" \
      || { echo "[no cuDNN, auto] FAILED: expected the CPU with the cuDNN reason" >> "$out"; rc=1; }
    if LD_LIBRARY_PATH="$nodnn" timeout --kill-after=10 120 "${sam4j[@]}" train --device cuda --model cnn --data fashion-mnist-sample \
         --epochs 1 --max-steps 2 --out "$results/run-cuda-cnn-nodnn" > "$results/train-cuda-cnn-nodnn.log" 2>&1; then
      echo "[no cuDNN, cuda] FAILED: an explicit cuda trained a convnet without cuDNN" >> "$out"; rc=1
    fi
    grep -E 'error' "$results/train-cuda-cnn-nodnn.log" | sed 's/^/[no cuDNN, cuda] /' >> "$out"
    [ "$(grep -c 'needs cuDNN 9' "$results/train-cuda-cnn-nodnn.log")" -eq 1 ] \
      || { echo "[no cuDNN, cuda] FAILED: expected one line naming cuDNN 9" >> "$out"; rc=1; }
  fi
  # 11. cuda:1, where there are two GPUs (CudaDeviceThreadsTest, in the tests above, also runs it from another thread).
  if [ "$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')" -ge 2 ]; then
    timeout --kill-after=10 120 "${sam4j[@]}" train --device cuda:1 --model cnn --data fashion-mnist-sample --epochs 1 --max-steps 20 \
      --out "$results/run-cuda1-cnn" > "$results/train-cuda1-cnn.log" 2>&1 || rc=1
    grep -E '^(backend:|epoch 1|sam4j: error)' "$results/train-cuda1-cnn.log" | sed 's/^/[cuda:1] /' >> "$out"
  else
    echo "[cuda:1] skipped: one GPU" >> "$out"
  fi
  # 12. and the gpu tests behind these items, from the test run above.
  test_results tests KernelImageTest CudnnProbeTest CudaDeviceThreadsTest DeterministicCudnnTest DevicePropertiesTest >> "$out"
  cat "$out"
  return $rc
}

# Whether version $1 (major.minor) is at least $2.
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }

# NCCL (7b above); appends to $results/nccl.txt, returns 1 if a check failed. Uses java, bundle and results of main.
nccl_checks() {
  local rc=0 out="$results/nccl.txt" sam4j=("${java[@]}" -jar "$bundle/lib/sam4j.jar") line version gpus device label log
  local extra=()
  : > "$out"
  line=$("${sam4j[@]}" info 2>&1 | grep -E '^ *nccl: ' | head -1 | sed 's/^ *//')
  echo "[nccl] ${line:-nccl: not reported (CUDA unavailable?)}" >> "$out"
  test_results nccl NcclOneRankTest NcclCollectiveTest NcclGraphCaptureTest NcclGraphFaultTest NcclLaunchProcessTest >> "$out"
  grep -h '^NCCL one rank:' "$results/tests.txt" | sed 's/^/[nccl] /' >> "$out"
  version=$(sed -n 's/.*nccl: NCCL \([0-9][0-9]*\.[0-9][0-9]*\)\..*/\1/p' <<< "$line")
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
  if [ -z "$version" ]; then
    echo "[nccl] two ranks skipped: NCCL does not load here (see the line above)" >> "$out"
  elif [ "$gpus" -lt 2 ] && ! version_ge "$version" 2.30; then
    echo "[nccl] two ranks skipped: one GPU, and NCCL $version runs one rank per GPU only (two ranks on one GPU need NCCL 2.30 or newer with NCCL_MULTI_RANK_GPU_ENABLE=1)" >> "$out"
  else
    if [ "$gpus" -ge 2 ]; then
      device=cuda label="2 ranks, 2 GPUs"
    else
      device=cuda:0 label="2 ranks, 1 GPU" extra=(NCCL_MULTI_RANK_GPU_ENABLE=1)
    fi
    local step finals=()
    for step in graph host; do
      log="$results/train-nccl-2ranks-$step.log"
      env "${extra[@]}" timeout --kill-after=10 150 "${sam4j[@]}" launch --nproc-per-node 2 --master-port $((29500 + RANDOM % 1000)) \
        train --device "$device" --model mlp --data fashion-mnist-sample --epochs 2 --optimizer aesam --cuda-step "$step" \
        --out "$results/run-nccl-2ranks-$step" > "$log" 2>&1 || rc=1
      grep -E '^(backend:|epoch 2|rank [0-9]+ of 2: (final|step:)|sam4j: error)' "$log" | sed "s/^/[nccl $label, $step step] /" >> "$out"
      # Each rank's line: its weights digest and its SAM decisions' digest; both ranks must print the same one.
      if [ "$(grep -c 'final weights digest' "$log")" -ne 2 ] || [ "$(grep -oE 'final weights digest .*' "$log" | sort -u | wc -l)" -ne 1 ]; then
        echo "[nccl $label, $step step] FAILED: expected the same final weights digest and SAM decisions on both ranks" >> "$out"
        rc=1
      fi
      finals+=("$(grep -oE 'final weights digest .*' "$log" | head -1)")
    done
    if ! grep -q '^rank 0 of 2: step: CUDA step graph' "$results/train-nccl-2ranks-graph.log"; then
      echo "[nccl $label] FAILED: the default run did not take the CUDA graph step" >> "$out"
      rc=1
    fi
    if [ "${finals[0]}" != "${finals[1]}" ]; then
      echo "[nccl $label] FAILED: the graph step and the host-driven step ended differently (${finals[0]} vs ${finals[1]})" >> "$out"
      rc=1
    fi
  fi
  cat "$out"
  return $rc
}

# 7. the mixed-precision benchmark in at most $1 seconds (capped at PRECISION_TIMEOUT); sets precision_rc,
# precision_s and precision_done of main. Uses bundle and results of main.
precision_step() {
  local left=$1 t0
  [ "$left" -gt "$PRECISION_TIMEOUT" ] && left=$PRECISION_TIMEOUT
  precision_done=1
  if [ ! -x "$bundle/bench-gpu-precision" ]; then
    echo "gpu-check: precision benchmark skipped, $bundle/bench-gpu-precision is missing" | tee "$results/precision-bench.txt"
  elif [ "$left" -lt 60 ]; then
    echo "gpu-check: precision benchmark skipped, ${left}s of the ${BUDGET}s budget left (GPU_CHECK_BUDGET)" | tee "$results/precision-bench.txt"
  else
    echo "gpu-check: precision benchmark, sam4j fp32/tf32/bf16 vs PyTorch's configurations (${left}s)"
    t0=$SECONDS
    SAM4J_BUNDLE="$bundle" timeout --kill-after=10 $((left + 15)) "$bundle/bench-gpu-precision" "$results" "$left" 2>&1 \
      | tee "$results/precision-bench.txt"
    precision_rc=${PIPESTATUS[0]}
    precision_s=$((SECONDS - t0))
  fi
}

if [ "${1:-}" = --unpack-runtime ]; then
  # for tests: unpack the runtime as main does, print where it is, and stop
  unpack_runtime || exit 3
  echo "$bundle/jre"
  exit 0
fi
if [ "${1:-}" = --lib-dirs ]; then
  search_cuda_libs "${2:?usage: gpu-check.sh --lib-dirs ROOT}"
  [ ${#lib_dirs[@]} -eq 0 ] || printf '%s\n' "${lib_dirs[@]}" | awk '!seen[$0]++'
  exit 0
fi
results=${1:?usage: gpu-check.sh RESULTDIR}
mkdir -p "$results" || exit 3
results=$(cd "$results" && pwd)

main() {
  local f
  unpack_runtime || return 3
  for f in jre/bin/java lib/sam4j.jar lib/junit-platform-console-standalone.jar test-classes; do
    if [ ! -e "$bundle/$f" ]; then
      echo "gpu-check: bundle incomplete, $bundle/$f is missing (build it with scripts/gpu-bundle.sh)"
      return 3
    fi
  done
  cat "$bundle/BUNDLE.txt" 2>/dev/null | sed 's/^/gpu-check: /'

  find_cuda_libs
  local cuda_path=""
  [ ${#lib_dirs[@]} -gt 0 ] && cuda_path=$(printf '%s\n' "${lib_dirs[@]}" | awk '!seen[$0]++' | paste -sd: -)
  echo "gpu-check: CUDA library dirs: ${cuda_path:-none found}"
  # Only LD_LIBRARY_PATH reaches the JNI libraries' own dependencies; eager binding would fail on 13.0 libraries.
  export LD_LIBRARY_PATH="${cuda_path}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  unset LD_BIND_NOW
  if command -v nvidia-smi >/dev/null 2>&1; then
    timeout 30 nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/gpu-check: nvidia-smi: /'
  else
    echo "gpu-check: nvidia-smi not found"
  fi

  local cache java cp
  cache=$(mktemp -d "${TMPDIR:-/tmp}/sam4j-javacpp.XXXXXX")
  java=("$bundle/jre/bin/java" --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow
        --add-modules jdk.incubator.vector -Dorg.bytedeco.javacpp.cachedir="$cache" -XX:ErrorFile="$results/hs_err_pid%p.log")
  cp="$bundle/test-classes:$bundle/lib/sam4j.jar"

  "${java[@]}" -cp "$cp" dev.sam4j.backend.cuda.GpuBenchmark probe 2>&1 | grep -v 'incubator modules'
  local rc=${PIPESTATUS[0]}
  if [ "$rc" -ne 0 ]; then
    echo "gpu-check: no usable GPU (exit $rc); nothing else to run"
    rm -rf "$cache"
    return 2
  fi
  "${java[@]}" -jar "$bundle/lib/sam4j.jar" info 2>&1 | grep -v 'incubator modules'

  echo "gpu-check: running the gpu-tagged tests (timeout ${TEST_TIMEOUT}s)"
  local t0=$SECONDS
  timeout --kill-after=10 "$TEST_TIMEOUT" "${java[@]}" -Xmx8g -jar "$bundle/lib/junit-platform-console-standalone.jar" execute \
    --class-path "$cp" --scan-class-path "$bundle/test-classes" --include-tag gpu --details=tree --disable-banner \
    --reports-dir "$results/junit" > "$results/tests.txt" 2>&1
  local test_rc=$?
  local test_s=$((SECONDS - t0))
  grep -E '(tests (successful|failed|aborted|skipped|found))|✘|MethodSource|JUnit Jupiter' "$results/tests.txt" | tail -40
  # GPU_CHECK_PRECISION_FIRST=1: the mixed-precision benchmark next, before the other benchmarks can use up the budget.
  local precision_rc=0 precision_s=0 precision_done=0
  [ "${GPU_CHECK_PRECISION_FIRST:-0}" = 1 ] && precision_step "$PRECISION_TIMEOUT"

  # GPU_CHECK_TESTS_ONLY=1 (a quick rerun after a fix): the tests alone, then the summary.
  local bench_rc=0 bench_s=0 resnet_rc=0 resnet_s=0 train_rc=0 contact_rc=0 nccl_rc=0
  if [ "${GPU_CHECK_TESTS_ONLY:-0}" = 1 ]; then
    echo "gpu-check: GPU_CHECK_TESTS_ONLY=1: benchmarks, training runs, first-contact and NCCL launch checks skipped"
    precision_done=1
  else
  echo "gpu-check: running the benchmark (timeout ${BENCH_TIMEOUT}s)"
  t0=$SECONDS
  timeout --kill-after=10 "$BENCH_TIMEOUT" "${java[@]}" -Xmx8g -cp "$cp" dev.sam4j.backend.cuda.GpuBenchmark bench "$results" 2>&1 \
    | grep -v 'incubator modules'
  local bench_rc=${PIPESTATUS[0]}
  local bench_s=$((SECONDS - t0))

  echo "gpu-check: ResNet-18 step benchmark, sam4j and PyTorch (timeout ${RESNET_TIMEOUT}s)"
  t0=$SECONDS
  SAM4J_BUNDLE="$bundle" timeout --kill-after=10 "$RESNET_TIMEOUT" "$bundle/bench-gpu-step" "$results" 2>&1 | tee "$results/resnet-bench.txt"
  local resnet_rc=${PIPESTATUS[0]}
  local resnet_s=$((SECONDS - t0))

  # 6. the trainer end to end on the GPU: the embedded Fashion-MNIST sample, AE-SAM, each CUDA step path.
  echo "gpu-check: training the mlp with AE-SAM on the GPU (graph, readback and host step paths)"
  local train_rc=0 path
  : > "$results/train.txt"
  for path in graph readback host; do
    timeout --kill-after=10 120 "${java[@]}" -jar "$bundle/lib/sam4j.jar" train --device cuda --model mlp \
      --data fashion-mnist-sample --optimizer aesam --epochs 5 --cuda-step "$path" --out "$results/run-aesam-$path" \
      > "$results/train-$path.log" 2>&1 || train_rc=1
    { grep -E '^backend:' "$results/train-$path.log" | sed "s/^/[$path] /"
      grep -E '^(epoch 5|done|sam4j: error)' "$results/train-$path.log" | sed "s/^/[$path] /"; } | tee -a "$results/train.txt"
  done
  echo "gpu-check: training the cnn with AE-SAM on the GPU (graph step path, 1 epoch)"
  timeout --kill-after=10 120 "${java[@]}" -jar "$bundle/lib/sam4j.jar" train --device cuda --model cnn \
    --data fashion-mnist-sample --optimizer aesam --epochs 1 --cuda-step graph --out "$results/run-cnn-aesam-graph" \
    > "$results/train-cnn.log" 2>&1 || train_rc=1
  { grep -E '^backend:' "$results/train-cnn.log" | sed "s/^/[cnn graph] /"
    grep -E '^(epoch 1|done|sam4j: error)' "$results/train-cnn.log" | sed "s/^/[cnn graph] /"; } | tee -a "$results/train.txt"
  # The input pipeline: ResNet-18 AE-SAM on CIFAR-shaped synthetic data, batches loaded, augmented (crop +
  # flip), staged in pinned memory and copied on the copy stream (--input loader) against one batch kept on
  # the device (--input synthetic). Equal img/s in epoch 2 means the pipeline keeps the GPU busy.
  echo "gpu-check: input pipeline, ResNet-18 AE-SAM, loader vs synthetic input (2 epochs of 40 steps each)"
  local input
  for input in loader synthetic; do
    timeout --kill-after=10 150 "${java[@]}" -jar "$bundle/lib/sam4j.jar" train --device cuda --model resnet18 \
      --data synthetic:3,32,32:10:5120:512 --augment on --optimizer aesam --epochs 2 --input "$input" \
      --out "$results/run-resnet-$input" > "$results/train-resnet-$input.log" 2>&1 || train_rc=1
    { grep -E '^backend:' "$results/train-resnet-$input.log" | sed "s/^/[resnet18 input=$input] /"
      grep -E '^(epoch 2:|sam4j: error)' "$results/train-resnet-$input.log" | sed "s/^/[resnet18 input=$input] /"; } \
      | tee -a "$results/train.txt"
  done

  # Channels-last in training: ResNet-18 AE-SAM in TF32 on one device-resident batch (--input synthetic), NCHW
  # against NHWC: epoch 2's img/s of each (the layouts compute the same values; only the speed may differ).
  echo "gpu-check: channels-last in training, ResNet-18 AE-SAM tf32, nchw vs nhwc (2 epochs of 40 steps each)"
  local lay
  for lay in nchw nhwc; do
    timeout --kill-after=10 150 "${java[@]}" -jar "$bundle/lib/sam4j.jar" train --device cuda --model resnet18 \
      --data synthetic:3,32,32:10:5120:512 --augment off --optimizer aesam --epochs 2 --input synthetic --precision tf32 \
      --image-layout "$lay" --out "$results/run-resnet-tf32-$lay" > "$results/train-resnet-tf32-$lay.log" 2>&1 || train_rc=1
    grep -E '^(epoch 2:|sam4j: error)' "$results/train-resnet-tf32-$lay.log" | sed "s/^/[resnet18 tf32 $lay] /" | tee -a "$results/train.txt"
  done

  # bf16 in training on the GPU: the cnn with AE-SAM on the embedded sample, 15 epochs, seeds 1-3, fp32 and bf16
  # (graph step). The test accuracy and SAM fraction of each run and the means; docs/BENCHMARKS.md has the CPU
  # emulation's runs of the same commands to set them against.
  echo "gpu-check: bf16 against fp32 in training (cnn, AE-SAM, embedded sample, 15 epochs, seeds 1-3)"
  : > "$results/precision-train.txt"
  local seed prec
  for seed in 1 2 3; do
    for prec in fp32 bf16; do
      timeout --kill-after=10 90 "${java[@]}" -jar "$bundle/lib/sam4j.jar" train --device cuda --model cnn \
        --data fashion-mnist-sample --optimizer aesam --epochs 15 --precision "$prec" --seed "$seed" \
        --out "$results/run-cnn-$prec-$seed" > "$results/train-cnn-$prec-$seed.log" 2>&1 || train_rc=1
      grep -E '^(done|sam4j: error)' "$results/train-cnn-$prec-$seed.log" | sed "s/^/[cnn $prec seed $seed] /" \
        | tee -a "$results/precision-train.txt"
    done
  done
  awk '/^\[cnn (fp32|bf16) seed/ && / done: / {
         p = $2; match($0, /test accuracy [0-9.]+/); a = substr($0, RSTART + 14, RLENGTH - 14)
         match($0, /SAM fraction [0-9.]+/); f = substr($0, RSTART + 13, RLENGTH - 13)
         acc[p] += a; frac[p] += f; n[p]++ }
       END { if (n["fp32"] && n["bf16"]) printf "[cnn] means over %d seeds: fp32 accuracy %.4f SAM fraction %.3f; bf16 accuracy %.4f SAM fraction %.3f; bf16 - fp32: %+.2f points, %+.3f\n",
               n["bf16"], acc["fp32"] / n["fp32"], frac["fp32"] / n["fp32"], acc["bf16"] / n["bf16"], frac["bf16"] / n["bf16"],
               100 * (acc["bf16"] / n["bf16"] - acc["fp32"] / n["fp32"]), frac["bf16"] / n["bf16"] - frac["fp32"] / n["fp32"] }' \
    "$results/precision-train.txt" | tee -a "$results/precision-train.txt"
  cat "$results/precision-train.txt" >> "$results/train.txt"

  echo "gpu-check: first-contact checks (kernels vs compute capability, cuDNN probe, cuda:1, --deterministic)"
  local contact_rc=0
  contact_checks || contact_rc=1
  echo "gpu-check: NCCL (one rank against the single-GPU step; two ranks where the GPUs and NCCL allow)"
  local nccl_rc=0
  nccl_checks || nccl_rc=1
  fi
  rm -rf "$cache"

  # 7. mixed precision against PyTorch at its best, in what the run's budget leaves (20 s kept for the summary),
  # unless GPU_CHECK_PRECISION_FIRST=1 ran it already, right after the tests.
  [ "$precision_done" = 1 ] || precision_step $((BUDGET - SECONDS - 20))

  {
    echo "==================== sam4j GPU check summary ===================="
    echo "bundle:  $(head -1 "$bundle/BUNDLE.txt" 2>/dev/null)"
    "${bundle}/jre/bin/java" -version 2>&1 | head -1 | sed 's/^/java:    /'
    command -v nvidia-smi >/dev/null 2>&1 && timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu:     /'
    echo "tests:   exit $test_rc in ${test_s}s: $(grep -E 'tests (successful|failed|aborted|skipped)' "$results/tests.txt" | tr -s ' []' ' ' | paste -sd, -)"
    grep -E '✘' "$results/tests.txt" | head -8 | sed 's/^/  FAILED /'
    # the tests that prove on the GPU what the CPU stand-ins can only emulate: the device step's kernels and
    # skip semantics against the host's arithmetic, and device memory and input ordering as the driver sees them
    test_results step CudaKernelsTest HostDeviceStepAgreementTest DeviceSkipTest StepGraphTest
    test_results memory CudaMemoryFlatTest CudaInputPipelineTest CudaCheckpointTest
    # --precision on the GPU: TF32 GEMM/convolution against the CPU's TF32 emulation and unlike fp32 (tensor cores in
    # use), the bf16 rounding kernel bit for bit, the bf16 graph step against the CPU's bf16 emulation, no host sync;
    # the bf16 shadow written by the perturbation and update kernels in their own pass, host step and graph step
    test_results precision CudaPrecisionTest CudaBf16ShadowTest CudaNativeBf16Test
    # channels-last: cuDNN's NHWC convolution, pooling and batch norm and the permutation kernel against the NCHW
    # reference; convnets in NHWC in lock step with it, and on the graph step without a host sync
    test_results channels-last CudaChannelsLastTest CudaConvnetTrainingTest
    echo "bench:   exit $bench_rc in ${bench_s}s"
    [ -f "$results/bench.txt" ] && cat "$results/bench.txt"
    echo "resnet:  exit $resnet_rc in ${resnet_s}s (ResNet-18, batch 128, sam4j graph path vs PyTorch eager)"
    grep -vE '^(WARNING|gpu-check)' "$results/resnet-bench.txt" 2>/dev/null | tail -20
    echo "train:   exit $train_rc (mlp, AE-SAM, embedded sample, 5 epochs, per step path; cnn, AE-SAM, graph, 1 epoch; resnet18 loader vs synthetic input; resnet18 tf32 nchw vs nhwc; cnn fp32 vs bf16, 3 seeds)"
    [ -f "$results/train.txt" ] && cat "$results/train.txt"
    echo "contact: exit $contact_rc (compute capability vs kernels, auto/cuda with and without cuDNN, cuda:1, their gpu tests)"
    [ -f "$results/contact.txt" ] && cat "$results/contact.txt"
    echo "nccl:    exit $nccl_rc (one rank on NCCL vs the single-GPU step; two ranks where possible)"
    [ -f "$results/nccl.txt" ] && cat "$results/nccl.txt"
    echo "precision: exit $precision_rc in ${precision_s}s (sam4j fp32/tf32/bf16 vs PyTorch's fastest configuration per precision)"
    if [ -f "$results/precision.md" ]; then
      awk '/^## Every PyTorch configuration/ { exit } /^\|/' "$results/precision.md"  # the table and the bf16 targets
    else
      tail -3 "$results/precision-bench.txt" 2>/dev/null
    fi
    echo "files:   $results/{gpu-check.log,tests.txt,junit/,bench.json,bench.txt,resnet18.json,pytorch.json,precision.md,precision.json,summary.txt}"
    echo "================================================================="
  } | tee "$results/summary.txt"
  if [ "$test_rc" -eq 124 ] || [ "$test_rc" -eq 137 ] || [ "$bench_rc" -eq 124 ] || [ "$bench_rc" -eq 137 ]; then return 124; fi
  [ "$test_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ] && [ "$resnet_rc" -eq 0 ] && [ "$train_rc" -eq 0 ] && [ "$contact_rc" -eq 0 ] \
    && [ "$nccl_rc" -eq 0 ] && [ "$precision_rc" -eq 0 ] && return 0
  for rc in "$test_rc" "$bench_rc"; do case $rc in 127 | 134) return "$rc" ;; esac; done
  return 1
}

main 2>&1 | tee "$results/gpu-check.log"
exit "${PIPESTATUS[0]}"
