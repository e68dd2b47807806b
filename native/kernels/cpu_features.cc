// Run-time CPU feature detection: __builtin_cpu_supports with GCC/Clang, cpuid and xgetbv with MSVC; AVX-512 with
// cpuid and xgetbv on both, so the OS check (XCR0) does not depend on the compiler runtime's version.
#include "cpu_features.h"

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <immintrin.h>
#include <intrin.h>
#elif defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

#include <cstdint>

namespace lrp::kernels {

namespace {

#if (defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))) || (defined(_MSC_VER) && defined(_M_X64))
// cpuid leaf/subleaf into regs (eax, ebx, ecx, edx); false when the leaf does not exist.
bool cpuid(unsigned leaf, unsigned subleaf, unsigned regs[4]) {
#if defined(_MSC_VER)
  int r[4];
  __cpuid(r, 0);
  if (static_cast<unsigned>(r[0]) < leaf) return false;
  __cpuidex(r, static_cast<int>(leaf), static_cast<int>(subleaf));
  for (int i = 0; i < 4; ++i) regs[i] = static_cast<unsigned>(r[i]);
  return true;
#else
  return __get_cpuid_count(leaf, subleaf, &regs[0], &regs[1], &regs[2], &regs[3]) != 0;
#endif
}

// XCR0: which register states the OS saves on context switches. Only call when cpuid reports OSXSAVE.
uint64_t readXcr0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));  // no target("xsave") needed for the asm form
  return (static_cast<uint64_t>(edx) << 32) | eax;
#endif
}

// AVX-512F usable: the CPU has it (cpuid 7.0 EBX bit 16) and the OS saves xmm, ymm, opmask, the upper halves of
// zmm0–15 and zmm16–31 (XCR0 bits 1, 2, 5, 6, 7).
bool detectAvx512f() {
  unsigned regs[4];
  if (!cpuid(1, 0, regs)) return false;
  const bool osxsave = (regs[2] >> 27) & 1;
  if (!osxsave) return false;
  constexpr uint64_t kXmmYmm = 0x6, kOpmaskZmm = 0xE0;
  if ((readXcr0() & (kXmmYmm | kOpmaskZmm)) != (kXmmYmm | kOpmaskZmm)) return false;
  if (!cpuid(7, 0, regs)) return false;
  return (regs[1] >> 16) & 1;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  // libgcc/compiler-rt also check that the OS enables the ymm state (XCR0) before reporting avx2.
  f.avx2Fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  f.avx512f = f.avx2Fma && detectAvx512f();
#elif defined(_MSC_VER) && defined(_M_X64)
  int regs[4];
  __cpuid(regs, 1);
  const bool fma = (regs[2] >> 12) & 1, osxsave = (regs[2] >> 27) & 1, avx = (regs[2] >> 28) & 1;
  bool ymmEnabled = false;
  if (osxsave) ymmEnabled = (_xgetbv(0) & 6) == 6;
  __cpuidex(regs, 7, 0);
  const bool avx2 = (regs[1] >> 5) & 1;
  f.avx2Fma = fma && avx && avx2 && ymmEnabled;
  f.avx512f = f.avx2Fma && detectAvx512f();
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
