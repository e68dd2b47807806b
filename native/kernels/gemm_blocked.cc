// The cache-blocked GEMM driver: loops over NC, KC and MC blocks, packs panels, hands MR×NR tiles to a micro-kernel.
#include "gemm_blocked.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>

namespace lrp::kernels {

int roundUp(int value, int step) { return (value + step - 1) / step * step; }

// Splits `total` into the fewest blocks of at most `limit`, of nearly equal size (a multiple of `step` where possible),
// so a K of 300 becomes 152 + 148 rather than 256 + 44. Depends only on the shape, which keeps results deterministic.
int balancedBlock(int total, int limit, int step) {
  const int blocks = (total + limit - 1) / limit;
  return std::min(limit, roundUp((total + blocks - 1) / blocks, step));
}

int tileRowsAt(const GemmMicroKernel& micro, int remaining) {
  if (micro.shortRows == 4 && (remaining == 7 || remaining == 8)) return 4;
  return std::min(micro.mr, remaining);
}

void packATiles(const GemmMicroKernel& micro, bool transA, const float* A, int lda, int rows, int depth, float* packed) {
  for (int i = 0, height; i < rows; i += height) {
    height = tileRowsAt(micro, rows - i);
    const float* first = transA ? A + i : A + static_cast<ptrdiff_t>(i) * lda;
    micro.packA(transA, first, lda, height, depth, packed + static_cast<ptrdiff_t>(roundUp(i, micro.mr)) * depth);
  }
}

float* PackBuffer::reserve(size_t count) {
  if (count > capacity_) {
    release();
    data_ = static_cast<float*>(::operator new(count * sizeof(float), std::align_val_t(64)));
    capacity_ = count;
  }
  return data_;
}

void PackBuffer::release() {
  if (data_) ::operator delete(data_, std::align_val_t(64));
  data_ = nullptr;
  capacity_ = 0;
}

void scaleMatrix(int M, int N, float beta, float* C, int ldc) {
  if (beta == 1.f) return;
  for (int i = 0; i < M; ++i) {
    float* c = C + static_cast<ptrdiff_t>(i) * ldc;
    if (beta == 0.f) std::memset(c, 0, sizeof(float) * static_cast<size_t>(N));
    else for (int j = 0; j < N; ++j) c[j] *= beta;
  }
}

void sweepPanel(const GemmMicroKernel& micro, int kc, const float* packedA, int rows, const float* panel, float alpha,
                bool accumulate, float* C, int ldc, int cols) {
  for (int ir = 0, height; ir < rows; ir += height) {
    height = tileRowsAt(micro, rows - ir);
    micro.kernel(kc, packedA + static_cast<ptrdiff_t>(roundUp(ir, micro.mr)) * kc, panel, alpha, accumulate,
                 C + static_cast<ptrdiff_t>(ir) * ldc, ldc, height, cols);
  }
}

bool prepareC(int M, int N, int K, float alpha, float& beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return false;
  if (K <= 0 || alpha == 0.f) {
    scaleMatrix(M, N, beta, C, ldc);
    return false;
  }
  if (beta != 0.f && beta != 1.f) {
    scaleMatrix(M, N, beta, C, ldc);
    beta = 1.f;
  }
  return true;
}

void sgemmBlocked(const GemmMicroKernel& micro, bool transA, bool transB, int M, int N, int K, float alpha,
                  const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  if (!prepareC(M, N, K, alpha, beta, C, ldc)) return;
  const int MR = micro.mr, NR = micro.nr;
  const int kcBlock = balancedBlock(K, micro.kc, 8);
  const int mcBlock = std::min(roundUp(M, MR), micro.mc);
  const int ncBlock = std::min(roundUp(N, NR), micro.nc);
  thread_local PackBuffer bufferA, bufferB;
  float* packedA = bufferA.reserve(static_cast<size_t>(mcBlock) * kcBlock);
  float* packedB = bufferB.reserve(static_cast<size_t>(ncBlock) * kcBlock);

  for (int jc = 0; jc < N; jc += ncBlock) {
    const int nc = std::min(ncBlock, N - jc);
    for (int pc = 0; pc < K; pc += kcBlock) {
      const int kc = std::min(kcBlock, K - pc);
      const float* b = transB ? B + static_cast<ptrdiff_t>(jc) * ldb + pc : B + static_cast<ptrdiff_t>(pc) * ldb + jc;
      const bool accumulate = pc > 0 || beta == 1.f;
      if (M <= mcBlock) {
        // One A block covers all of M, so each B panel is used by one sweep of A panels only: pack it just before
        // that sweep, into an L1-sized buffer, instead of writing the whole KC×NC block out to L2/L3 and reading it
        // back (which costs ~20% at M = 128, where packing is a large share of the work).
        const float* a = transA ? A + static_cast<ptrdiff_t>(pc) * lda : A + pc;
        packATiles(micro, transA, a, lda, M, kc, packedA);
        for (int jr = 0; jr < nc; jr += NR) {
          const int cols = std::min(NR, nc - jr);
          micro.packB(transB, transB ? b + static_cast<ptrdiff_t>(jr) * ldb : b + jr, ldb, cols, kc, packedB);
          sweepPanel(micro, kc, packedA, M, packedB, alpha, accumulate, C + jc + jr, ldc, cols);
        }
        continue;
      }
      micro.packB(transB, b, ldb, nc, kc, packedB);
      for (int ic = 0; ic < M; ic += mcBlock) {
        const int mc = std::min(mcBlock, M - ic);
        const float* a = transA ? A + static_cast<ptrdiff_t>(pc) * lda + ic : A + static_cast<ptrdiff_t>(ic) * lda + pc;
        packATiles(micro, transA, a, lda, mc, kc, packedA);
        for (int jr = 0; jr < nc; jr += NR) {
          sweepPanel(micro, kc, packedA, mc, packedB + static_cast<ptrdiff_t>(jr) * kc, alpha, accumulate,
                     C + static_cast<ptrdiff_t>(ic) * ldc + jc + jr, ldc, std::min(NR, nc - jr));
        }
      }
    }
  }
}

}  // namespace lrp::kernels
