// The cache-blocked GEMM driver shared by the SIMD kernels (GotoBLAS/BLIS loop structure) and the kernels' entry points.
#pragma once

#include <cstddef>

#include "gemm.h"

namespace lrp::kernels {

// What one instruction set contributes to the blocked GEMM: packing routines and an MR×NR register-tiled micro-kernel.
// Packing handles the transposes, so the micro-kernel sees one layout: A panels of MR rows stored k-major
// (a[k·MR + i]) and B panels of NR columns stored k-major (b[k·NR + j]), both zero-padded to full panels.
struct GemmMicroKernel {
  int mr, nr;      // register tile
  int kc, mc, nc;  // cache blocks: a KC×NR B panel stays in L1, an MC×KC A block in L2, a KC×NC B block in L3
  // Packs op(A)[0:rows, 0:depth] into ceil(rows/MR) panels; A points at op(A)(0, 0).
  void (*packA)(bool transA, const float* A, int lda, int rows, int depth, float* packed);
  // Packs op(B)[0:depth, 0:cols] into ceil(cols/NR) panels; B points at op(B)(0, 0).
  void (*packB)(bool transB, const float* B, int ldb, int cols, int depth, float* packed);
  // C[0:rows, 0:cols] = alpha · a · b (+ C when accumulate); rows ≤ MR, cols ≤ NR. Must compute every element of the
  // tile with the same operations whatever rows and cols are, so results do not depend on where a tile falls.
  void (*kernel)(int depth, const float* a, const float* b, float alpha, bool accumulate, float* C, int ldc, int rows,
                 int cols);
  // dst[e] = src[e] for e in [begin, end), 0 for the rest of [0, length); length ≤ NR. Reads src only inside
  // [begin, end) (src may point before a row's start). Packs convolution panels (conv_gemm.cc); null: plain loops.
  void (*copyRun)(const float* src, int begin, int end, int length, float* dst);
};

// A 64-byte aligned scratch buffer that only grows; one per thread and use, so concurrent callers never share it.
class PackBuffer {
 public:
  PackBuffer() = default;
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  ~PackBuffer() { release(); }
  float* reserve(size_t count);

 private:
  void release();
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

int roundUp(int value, int step);
// The K block for `total` under `limit`: the fewest blocks of nearly equal size (see gemm_blocked.cc).
int balancedBlock(int total, int limit, int step);

// C = alpha · op(A) · op(B) + beta · C with the given micro-kernel; single-threaded, packing buffers are thread_local.
void sgemmBlocked(const GemmMicroKernel& micro, bool transA, bool transB, int M, int N, int K, float alpha,
                  const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc);

// C = beta · C for the trivial cases (K = 0 or alpha = 0) and for a beta other than 0 or 1; beta 0 writes zeros.
void scaleMatrix(int M, int N, float beta, float* C, int ldc);

#if defined(__x86_64__) || defined(_M_X64)
#define LRP_HAVE_SGEMM_AVX2 1
void sgemmAvx2(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
               int ldb, float beta, float* C, int ldc);
// The AVX2 and AVX-512F micro-kernels (call the latter only where cpuFeatures().avx512f).
const GemmMicroKernel& avx2MicroKernel();
const GemmMicroKernel& avx512MicroKernel();
void sgemmAvx512(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                 int ldb, float beta, float* C, int ldc);
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
#define LRP_HAVE_SGEMM_NEON 1
void sgemmNeon(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
               int ldb, float beta, float* C, int ldc);
const GemmMicroKernel& neonMicroKernel();
#endif

}  // namespace lrp::kernels
