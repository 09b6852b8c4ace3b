#!/usr/bin/env bash
# Compiles src/main/cuda/*.cu into one fatbin (run by Maven in generate-resources; see pom.xml).
#
#   build-kernels.sh SRC_DIR OUT_FATBIN [STRICT]
#
# Machine code (SASS) for every architecture in SASS_ARCHS that this nvcc can target, plus PTX for
# compute_80 so that newer GPUs can JIT it. sm_75 (T4, RTX 20xx) is the oldest architecture CUDA 13 supports;
# the PTX does not cover it (PTX runs only on its own architecture and newer). At start-up sam4j checks the
# device's compute capability against what the fatbin holds (backend/cuda/Fatbin.java). Each .cu file keeps one concern; they are compiled as one
# translation unit (a generated file that includes them all) because nvcc writes one fatbin per unit.
# Without nvcc (NVCC, PATH, /usr/local/cuda/bin), or with NVCC=none, it says so and exits 0: the jar is then
# CPU-only (sam4j info says so: "kernels: this sam4j jar has no GPU kernels").
# With nvcc, a kernel that does not compile fails the build. Warnings fail it only with STRICT=true
# (-Dsam4j.kernels.strict=true, which scripts/test passes): a newer nvcc than this project was checked with may
# warn (deprecated architectures, new diagnostics), and that must not break a user's `mvn install`.
set -euo pipefail

src=${1:?usage: build-kernels.sh SRC_DIR OUT_FATBIN}
out=${2:?usage: build-kernels.sh SRC_DIR OUT_FATBIN [STRICT]}
strict=${3:-false}
SASS_ARCHS=(75 80 86 89 90 100 120)
PTX_ARCH=80

nvcc=${NVCC:-}
if [ -z "$nvcc" ]; then
  nvcc=$(command -v nvcc || true)
  [ -n "$nvcc" ] || nvcc=/usr/local/cuda/bin/nvcc
fi
if [ "$nvcc" = none ]; then
  echo "[sam4j] NVCC=none: building a CPU-only jar without GPU kernels; --device cuda will refuse to start."
  rm -f "$out" "${out%.fatbin}.txt"
  exit 0
fi
if [ ! -x "$nvcc" ]; then
  echo "[sam4j] nvcc not found (set NVCC, put nvcc on PATH, or install the CUDA 13 toolkit in /usr/local/cuda):"
  echo "[sam4j] building a CPU-only jar without GPU kernels; --device cuda will refuse to start."
  rm -f "$out" "${out%.fatbin}.txt"
  exit 0
fi

# Up to date? (the fatbin is newer than every source and than this script)
if [ -f "$out" ] && [ -z "$(find "$src" "$0" -newer "$out" -print -quit)" ]; then
  echo "[sam4j] kernels up to date: $out"
  exit 0
fi

mkdir -p "$(dirname "$out")"
work=$(mktemp -d "${TMPDIR:-/tmp}/sam4j-kernels.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$(cd "$src" && pwd)
for f in "$src"/*.cu; do echo "#include \"$f\""; done > "$work/kernels.cu"

gencode=()
archs=()
available=$("$nvcc" --list-gpu-code)
for sm in "${SASS_ARCHS[@]}"; do
  if grep -qx "sm_$sm" <<<"$available"; then
    gencode+=(-gencode "arch=compute_$sm,code=sm_$sm")
    archs+=("sm_$sm")
  else
    echo "[sam4j] this nvcc cannot target sm_$sm; skipped"
  fi
done
gencode+=(-gencode "arch=compute_$PTX_ARCH,code=compute_$PTX_ARCH")
archs+=("compute_$PTX_ARCH(PTX)")

echo "[sam4j] nvcc $("$nvcc" --version | grep -o 'release [0-9.]*') -> $(basename "$out"): ${archs[*]}"
werror=()
[ "$strict" = true ] && werror=(-Werror all-warnings)
if ! "$nvcc" -fatbin -O3 "${werror[@]}" -I"$src" "${gencode[@]}" -o "$work/kernels.fatbin" "$work/kernels.cu"; then
  echo "[sam4j] the GPU kernels did not compile with this nvcc (above); NVCC=none builds a CPU-only jar instead."
  exit 1
fi
mv "$work/kernels.fatbin" "$out"
echo "nvcc $("$nvcc" --version | grep -o 'V[0-9][0-9.]*' | head -1); ${archs[*]}" > "${out%.fatbin}.txt"
