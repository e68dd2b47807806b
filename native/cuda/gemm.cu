// A tiled SGEMM for the CUDA backend (no cuBLAS): 128×128 output tiles, K in steps of 8 through shared memory,
// 256 threads each holding an 8×8 block of C in registers; the next K step is prefetched into registers while the
// current one is multiplied.
#include "cuda_kernels.h"

namespace lrp::cuda {

namespace {

constexpr int kTileM = 128, kTileN = 128, kTileK = 8, kThreads = 256;

// Each thread loads 4 elements of the A tile and 4 of the B tile per K step. The element → (row, k) mapping follows the
// operand's memory order so that consecutive threads read consecutive addresses; the indices are recomputed (shifts
// and masks) rather than kept, to save registers.
template <bool TransA>
__device__ inline void tileIndexA(int index, int* m, int* k) {
  if (TransA) { *m = index % kTileM; *k = index / kTileM; }  // A[k·lda + m]
  else { *k = index % kTileK; *m = index / kTileK; }         // A[m·lda + k]
}

template <bool TransB>
__device__ inline void tileIndexB(int index, int* n, int* k) {
  if (TransB) { *k = index % kTileK; *n = index / kTileK; }  // B[n·ldb + k]
  else { *n = index % kTileN; *k = index / kTileN; }         // B[k·ldb + n]
}

template <bool TransA, bool TransB>
__device__ inline void loadTiles(const float* __restrict__ A, int lda, const float* __restrict__ B, int ldb, int M, int N, int K,
                                 int m0, int n0, int k0, int tid, float a[4], float b[4]) {
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    int m, ka, n, kb;
    tileIndexA<TransA>(tid + e * kThreads, &m, &ka);
    tileIndexB<TransB>(tid + e * kThreads, &n, &kb);
    const int gm = m0 + m, gk = k0 + ka;
    a[e] = gm < M && gk < K ? (TransA ? A[int64_t(gk) * lda + gm] : A[int64_t(gm) * lda + gk]) : 0.f;
    const int gn = n0 + n, gkb = k0 + kb;
    b[e] = gn < N && gkb < K ? (TransB ? B[int64_t(gn) * ldb + gkb] : B[int64_t(gkb) * ldb + gn]) : 0.f;
  }
}

template <bool TransA, bool TransB>
__global__ void __launch_bounds__(kThreads) sgemmKernel(int M, int N, int K, float alpha, const float* __restrict__ A, int lda,
                                                          const float* __restrict__ B, int ldb, float beta, float* __restrict__ C,
                                                          int ldc) {
  // Rows padded by 4 floats: stores of a K-major operand then spread over the banks, and rows stay 16-byte aligned.
  __shared__ __align__(16) float As[kTileK][kTileM + 4];
  __shared__ __align__(16) float Bs[kTileK][kTileN + 4];
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int m0 = blockIdx.y * kTileM, n0 = blockIdx.x * kTileN;

  // Thread (ty, tx) owns rows ty·4 + {0..3} and 64 + ty·4 + {0..3}, columns likewise: 16-byte shared loads without
  // bank conflicts.
  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[i][j] = 0.f;

  float a[4], b[4];
  loadTiles<TransA, TransB>(A, lda, B, ldb, M, N, K, m0, n0, 0, tid, a, b);
  for (int k0 = 0; k0 < K; k0 += kTileK) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      int m, ka, n, kb;
      tileIndexA<TransA>(tid + e * kThreads, &m, &ka);
      tileIndexB<TransB>(tid + e * kThreads, &n, &kb);
      As[ka][m] = a[e];
      Bs[kb][n] = b[e];
    }
    __syncthreads();
    if (k0 + kTileK < K) loadTiles<TransA, TransB>(A, lda, B, ldb, M, N, K, m0, n0, k0 + kTileK, tid, a, b);
#pragma unroll
    for (int k = 0; k < kTileK; ++k) {
      const float4 a0 = *reinterpret_cast<const float4*>(&As[k][ty * 4]);
      const float4 a1 = *reinterpret_cast<const float4*>(&As[k][64 + ty * 4]);
      const float4 b0 = *reinterpret_cast<const float4*>(&Bs[k][tx * 4]);
      const float4 b1 = *reinterpret_cast<const float4*>(&Bs[k][64 + tx * 4]);
      const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int row = m0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + (i - 4));
    if (row >= M) continue;
    float* c = C + int64_t(row) * ldc;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int col = n0 + (j < 4 ? tx * 4 + j : 64 + tx * 4 + (j - 4));
      if (col >= N) continue;
      const float v = alpha * acc[i][j];
      c[col] = beta == 0.f ? v : v + beta * c[col];
    }
  }
}

}  // namespace

void sgemm(cudaStream_t stream, bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;  // K = 0 is fine: the kernel then writes C = beta·C
  // gridDim.y is limited to 65535 tiles: very tall products go in slices of rows.
  constexpr int kMaxRows = 65535 * kTileM;
  for (int r0 = 0; r0 < M; r0 += kMaxRows) {
    const int rows = M - r0 < kMaxRows ? M - r0 : kMaxRows;
    const float* a = transA ? A + r0 : A + int64_t(r0) * lda;
    float* c = C + int64_t(r0) * ldc;
    const dim3 grid((N + kTileN - 1) / kTileN, (rows + kTileM - 1) / kTileM);
    if (!transA && !transB) sgemmKernel<false, false><<<grid, kThreads, 0, stream>>>(rows, N, K, alpha, a, lda, B, ldb, beta, c, ldc);
    else if (!transA && transB) sgemmKernel<false, true><<<grid, kThreads, 0, stream>>>(rows, N, K, alpha, a, lda, B, ldb, beta, c, ldc);
    else if (transA && !transB) sgemmKernel<true, false><<<grid, kThreads, 0, stream>>>(rows, N, K, alpha, a, lda, B, ldb, beta, c, ldc);
    else sgemmKernel<true, true><<<grid, kThreads, 0, stream>>>(rows, N, K, alpha, a, lda, B, ldb, beta, c, ldc);
    checkLaunch("sgemm");
  }
}

}  // namespace lrp::cuda
