#!/usr/bin/env bash
# The engine without Node: builds the C++ engine test with CMake and runs it with ctest (zennit goldens on the CPU
# backend); when nvcc exists, also compiles the CUDA backend and runs the same test (without a GPU it reports what is
# missing and checks the CPU backend only).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build-native-test -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-native-test -j"$jobs"
(cd build-native-test && ctest --output-on-failure)
if command -v nvcc >/dev/null 2>&1; then
  cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release -DLRP_CUDA=ON >/dev/null
  cmake --build build-cuda -j"$jobs"
  (cd build-cuda && ctest --output-on-failure)
else
  echo "test-native: nvcc not found, the CUDA backend was not compiled"
fi
