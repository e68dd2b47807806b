// Single-precision GEMM, row-major: C = alpha · op(A) · op(B) + beta · C (beta 0 never reads C).
#pragma once

namespace lrp::kernels {

void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc);

// The portable reference implementation (also what SIMD kernels are tested against).
void sgemmScalar(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                 int ldb, float beta, float* C, int ldc);

}  // namespace lrp::kernels
