// Chooses the GEMM implementation once from the CPU's features; sgemm calls it through a function pointer.
#include "cpu_features.h"
#include "gemm.h"
#include "gemm_blocked.h"

namespace lrp::kernels {

#if defined(LRP_HAVE_SGEMM_AVX2)
#define LRP_HAVE_SGEMM_AVX512 1  // gemm_avx512.cc is compiled wherever the AVX2 kernel is
#endif

namespace {

std::vector<SgemmKernel> detectKernels() {
  std::vector<SgemmKernel> kernels{{"scalar", sgemmScalar}};
  const CpuFeatures& cpu = cpuFeatures();
  (void)cpu;
#if defined(LRP_HAVE_SGEMM_AVX2)
  if (cpu.avx2Fma) kernels.push_back({"avx2-fma", sgemmAvx2, &avx2MicroKernel()});
#endif
#if defined(LRP_HAVE_SGEMM_AVX512)
  if (cpu.avx512f) kernels.push_back({"avx512f", sgemmAvx512, &avx512MicroKernel()});
#endif
#if defined(LRP_HAVE_SGEMM_NEON)
  if (cpu.neon) kernels.push_back({"neon", sgemmNeon, &neonMicroKernel()});
#endif
  return kernels;
}

const SgemmKernel& chosenKernel() {
  static const SgemmKernel chosen = availableSgemmKernels().back();
  return chosen;
}

}  // namespace

const std::vector<SgemmKernel>& availableSgemmKernels() {
  static const std::vector<SgemmKernel> kernels = detectKernels();  // thread-safe one-time initialisation
  return kernels;
}

const char* sgemmKernelName() { return chosenKernel().name; }

const GemmMicroKernel* sgemmMicroKernel() { return chosenKernel().micro; }

void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc) {
  chosenKernel().function(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace lrp::kernels
