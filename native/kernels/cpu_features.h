// The instruction-set extensions of the running CPU, detected once.
#pragma once

namespace lrp::kernels {

struct CpuFeatures {
  bool avx2Fma = false;  // x86-64: AVX2 and FMA3, with the OS saving the ymm registers
  bool avx512f = false;  // x86-64: AVX-512F (with AVX2 and FMA3), with the OS saving the opmask and zmm registers
  bool neon = false;     // arm64: Advanced SIMD (always there)
};

const CpuFeatures& cpuFeatures();

}  // namespace lrp::kernels
