#!/usr/bin/env bash
# The GPU check of the CUDA backend, without Node: configure and build with -DLRP_CUDA=ON, run the engine test (goldens
# on CPU and CUDA, CUDA against CPU on random plans; CUDA must be usable), the CPU-vs-CUDA benchmark, and, time
# permitting, compute-sanitizer memcheck on the test. Everything it reports goes to $OUT (default build-device/device-check).
# Finishes in under 5 minutes on a 16-core machine with one H100/H200.
#   bash scripts/device-check.sh
# Environment: OUT, BUILD_DIR (default build-device), LRP_CUDA_ARCHS (default 90-real: the device check builds for
# the GPU it runs on; the normal build's default is 80-real;90-real;90-virtual).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/${BUILD_DIR:-build-device}/device-check}"
BUILD="${BUILD_DIR:-build-device}"
ARCHS="${LRP_CUDA_ARCHS:-90-real}"
mkdir -p "$OUT"
start=$(date +%s)
elapsed() { echo $(($(date +%s) - start)); }
summary="$OUT/summary.txt"
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }

{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 || echo "nvidia-smi failed"
  nvcc --version 2>&1 | tail -2
  cmake --version | head -1
  echo "cores: $(nproc)"
} >"$OUT/environment.txt"
cat "$OUT/environment.txt"

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if ! cmake -S . -B "$BUILD" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DLRP_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCHS" \
    >"$OUT/build.log" 2>&1 || ! cmake --build "$BUILD" -j "$(nproc)" >>"$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"
  note "build: FAILED after $(elapsed) s (architectures $ARCHS)"
  exit 1
fi
note "build: ok in $(elapsed) s (architectures $ARCHS)"

timeout 150 "$BUILD/lrp_engine_test" --require-cuda >"$OUT/engine-test.log" 2>&1
test_status=$?
cat "$OUT/engine-test.log"
note "engine test: exit $test_status after $(elapsed) s"

timeout 170 "$BUILD/lrp_engine_test" --bench --bench-seconds 100 --out "$OUT/bench.md" >"$OUT/bench.log" 2>&1
bench_status=$?
cat "$OUT/bench.log"
note "bench: exit $bench_status after $(elapsed) s"

if command -v compute-sanitizer >/dev/null && [ "$(elapsed)" -lt 230 ]; then
  timeout 60 compute-sanitizer --tool memcheck --print-limit 20 "$BUILD/lrp_engine_test" --require-cuda >"$OUT/memcheck.log" 2>&1
  memcheck_status=$?
  tail -25 "$OUT/memcheck.log"
  note "memcheck: exit $memcheck_status after $(elapsed) s (124 = stopped at its time limit)"
else
  note "memcheck: skipped (no compute-sanitizer or no time left)"
fi

cat "$summary"
[ "$test_status" -eq 0 ] && [ "$bench_status" -eq 0 ]
