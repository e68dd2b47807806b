// Run-time CPU feature detection: __builtin_cpu_supports with GCC/Clang, cpuid and xgetbv with MSVC.
#include "cpu_features.h"

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <immintrin.h>
#include <intrin.h>
#endif

namespace lrp::kernels {

namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  // libgcc/compiler-rt also check that the OS enables the ymm state (XCR0) before reporting avx2.
  f.avx2Fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#elif defined(_MSC_VER) && defined(_M_X64)
  int regs[4];
  __cpuid(regs, 1);
  const bool fma = (regs[2] >> 12) & 1, osxsave = (regs[2] >> 27) & 1, avx = (regs[2] >> 28) & 1;
  bool ymmEnabled = false;
  if (osxsave) ymmEnabled = (_xgetbv(0) & 6) == 6;
  __cpuidex(regs, 7, 0);
  const bool avx2 = (regs[1] >> 5) & 1;
  f.avx2Fma = fma && avx && avx2 && ymmEnabled;
#elif defined(__aarch64__) || defined(_M_ARM64)
  f.neon = true;  // Advanced SIMD is part of the arm64 baseline
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpuFeatures() {
  static const CpuFeatures features = detect();  // thread-safe one-time initialisation
  return features;
}

}  // namespace lrp::kernels
