// Portable GEMM: loop orders that keep the innermost loop contiguous so the compiler can vectorise it.
#include <cstring>
#include <vector>

#include "gemm.h"

namespace lrp::kernels {

namespace {

void scaleC(int M, int N, float beta, float* C, int ldc) {
  for (int i = 0; i < M; ++i) {
    float* c = C + static_cast<long>(i) * ldc;
    if (beta == 0.f) std::memset(c, 0, sizeof(float) * N);
    else if (beta != 1.f) for (int j = 0; j < N; ++j) c[j] *= beta;
  }
}

}  // namespace

void sgemmScalar(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                 int ldb, float beta, float* C, int ldc) {
  scaleC(M, N, beta, C, ldc);
  if (K == 0 || alpha == 0.f) return;
  if (!transB) {
    // C[i, :] += alpha · A(i, k) · B[k, :]
    for (int i = 0; i < M; ++i) {
      float* c = C + static_cast<long>(i) * ldc;
      for (int k = 0; k < K; ++k) {
        float a = alpha * (transA ? A[static_cast<long>(k) * lda + i] : A[static_cast<long>(i) * lda + k]);
        if (a == 0.f) continue;
        const float* b = B + static_cast<long>(k) * ldb;
        for (int j = 0; j < N; ++j) c[j] += a * b[j];
      }
    }
    return;
  }
  // transB: C[i, j] += alpha · dot(A(i, :), B[j, :])
  std::vector<float> rowA;
  if (transA) rowA.resize(K);
  for (int i = 0; i < M; ++i) {
    const float* a = A + static_cast<long>(i) * lda;
    if (transA) {
      for (int k = 0; k < K; ++k) rowA[k] = A[static_cast<long>(k) * lda + i];
      a = rowA.data();
    }
    float* c = C + static_cast<long>(i) * ldc;
    for (int j = 0; j < N; ++j) {
      const float* b = B + static_cast<long>(j) * ldb;
      float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
      int k = 0;
      for (; k + 4 <= K; k += 4) {
        s0 += a[k] * b[k];
        s1 += a[k + 1] * b[k + 1];
        s2 += a[k + 2] * b[k + 2];
        s3 += a[k + 3] * b[k + 3];
      }
      for (; k < K; ++k) s0 += a[k] * b[k];
      c[j] += alpha * ((s0 + s1) + (s2 + s3));
    }
  }
}

}  // namespace lrp::kernels
