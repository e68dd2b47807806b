#!/usr/bin/env bash
# Builds and runs the standalone GEMM kernel test (and, with --bench, the micro-benchmark) with g++ directly; also
# cross-compiles the test for arm64 and runs it under qemu when aarch64-linux-gnu-g++ and qemu-aarch64 are installed
# (apt-get install -y g++-aarch64-linux-gnu qemu-user).
# Usage: scripts/test-kernels.sh [--bench [repeats]]
set -euo pipefail
cd "$(dirname "$0")/.."

KERNELS=(native/kernels/conv.cc native/kernels/conv_direct.cc native/kernels/conv_direct_avx2.cc native/kernels/conv_gemm.cc native/kernels/conv_rows.cc native/kernels/conv_rows_avx2.cc
         native/kernels/cpu_features.cc native/kernels/dispatch.cc
         native/kernels/gemm_avx2.cc native/kernels/gemm_avx512.cc native/kernels/gemm_blocked.cc native/kernels/gemm_neon.cc
         native/kernels/float_memory.cc native/kernels/gemm_packed_b.cc native/kernels/gemm_scalar.cc)
# The shipped build's flags (binding.gyp): no -march, so the SIMD kernels are chosen at run time.
FLAGS=(-std=c++17 -O3 -Wall -Wextra -pthread)
OUT="$(mktemp -d "${TMPDIR:-/tmp}/lrp-kernels.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT
CXX="${CXX:-g++}"

echo "== kernel_test ($("$CXX" -dumpmachine), $CXX)"
"$CXX" "${FLAGS[@]}" "${KERNELS[@]}" native/tests/kernel_test.cc -o "$OUT/kernel_test"
"$OUT/kernel_test"
echo "== conv_gemm_test"
"$CXX" "${FLAGS[@]}" "${KERNELS[@]}" native/tests/conv_gemm_test.cc -o "$OUT/conv_gemm_test"
"$OUT/conv_gemm_test"

echo "== kernel_test with the intrinsic micro-kernel instead of inline assembly (what MSVC builds)"
"$CXX" "${FLAGS[@]}" -DLRP_GEMM_NO_ASM "${KERNELS[@]}" native/tests/kernel_test.cc -o "$OUT/kernel_test_no_asm"
"$OUT/kernel_test_no_asm" | grep -v '^scalar'
"$CXX" "${FLAGS[@]}" -DLRP_GEMM_NO_ASM "${KERNELS[@]}" native/tests/conv_gemm_test.cc -o "$OUT/conv_gemm_test_no_asm"
"$OUT/conv_gemm_test_no_asm" | grep -v '^scalar'

if command -v qemu-x86_64 >/dev/null && [[ "$("$CXX" -dumpmachine)" == x86_64* ]]; then
  echo "== kernel_test on an emulated CPU without AVX2 (qemu-x86_64 -cpu Nehalem): must fall back to scalar"
  qemu-x86_64 -cpu Nehalem "$OUT/kernel_test" | grep -v '^scalar'
  qemu-x86_64 -cpu Nehalem "$OUT/conv_gemm_test" | grep -v '^scalar'
  # qemu's TCG has no AVX-512, so Haswell is an AVX2 CPU without it (only dispatch is checked: the full test crashes
  # qemu 7.2's AVX2 emulation, with or without the AVX-512 kernel).
  echo "== dispatch on an emulated AVX2 CPU without AVX-512 (qemu-x86_64 -cpu Haswell): must choose avx2-fma"
  qemu-x86_64 -cpu Haswell "$OUT/kernel_test" --list 2>/dev/null | tee "$OUT/haswell.txt"
  grep -q 'sgemm uses avx2-fma$' "$OUT/haswell.txt"
else
  echo "== no-AVX2 fallback check SKIPPED: qemu-x86_64 missing (apt-get install -y qemu-user)"
fi

if command -v aarch64-linux-gnu-g++ >/dev/null && command -v qemu-aarch64 >/dev/null; then
  echo "== kernel_test (aarch64-linux-gnu, under qemu-aarch64)"
  aarch64-linux-gnu-g++ "${FLAGS[@]}" "${KERNELS[@]}" native/tests/kernel_test.cc -o "$OUT/kernel_test_arm64"
  qemu-aarch64 -L /usr/aarch64-linux-gnu "$OUT/kernel_test_arm64"
  aarch64-linux-gnu-g++ "${FLAGS[@]}" "${KERNELS[@]}" native/tests/conv_gemm_test.cc -o "$OUT/conv_gemm_test_arm64"
  qemu-aarch64 -L /usr/aarch64-linux-gnu "$OUT/conv_gemm_test_arm64"
else
  echo "== arm64 check SKIPPED: aarch64-linux-gnu-g++ and/or qemu-aarch64 missing" \
       "(apt-get install -y g++-aarch64-linux-gnu qemu-user)"
fi

if [[ "${1:-}" == "--bench" ]]; then
  echo "== gemm_bench (quiet machine needed: $(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg))"
  "$CXX" "${FLAGS[@]}" "${KERNELS[@]}" native/tests/gemm_bench.cc -o "$OUT/gemm_bench"
  "$OUT/gemm_bench" "${2:-5}"
fi
