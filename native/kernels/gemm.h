// Single-precision GEMM, row-major: C = alpha · op(A) · op(B) + beta · C (beta 0 never reads C).
#pragma once

#include <vector>

namespace lrp::kernels {

using SgemmFunction = void (*)(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
                               const float* B, int ldb, float beta, float* C, int ldc);

// The fastest implementation the running CPU supports, chosen once (AVX-512F, else AVX2+FMA on x86-64, NEON on arm64,
// else the portable one). Thread-safe, never starts threads, and deterministic: the same inputs give bit-identical
// outputs whichever thread calls, and a column of C does not depend on how the caller splits N.
void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc);

// The portable reference implementation (also what SIMD kernels are tested against).
void sgemmScalar(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                 int ldb, float beta, float* C, int ldc);

struct GemmMicroKernel;  // gemm_blocked.h

struct SgemmKernel {
  const char* name;  // "scalar", "avx2-fma", "avx512f", "neon"
  SgemmFunction function;
  const GemmMicroKernel* micro = nullptr;  // the micro-kernel of its blocked path (M > 4); null for the portable one
};

// Every implementation compiled into this binary that the running CPU can execute, the portable one first and the one
// sgemm uses last.
const std::vector<SgemmKernel>& availableSgemmKernels();

// The name of the implementation sgemm uses.
const char* sgemmKernelName();

// The micro-kernel of sgemm's blocked path (what PackedGemmB packs for); null where sgemm is the portable one.
const GemmMicroKernel* sgemmMicroKernel();

}  // namespace lrp::kernels
