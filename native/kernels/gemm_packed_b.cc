// GEMM with a pre-packed B (gemm_packed_b.h): sgemmBlocked's loops without its B packing.
#include "gemm_packed_b.h"

#include <algorithm>
#include <new>

#include "float_memory.h"

namespace lrp::kernels {

void PackedGemmB::FloatsDelete::operator()(float* p) const { freeFloats(p); }

PackedGemmB::PackedGemmB(const GemmMicroKernel& micro, bool transB, const float* B, int ldb, int K, int N)
    : micro_(&micro), K_(K), N_(N), kcBlock_(K > 0 ? balancedBlock(K, micro.kc, 8) : 0),
      columnsPadded_(roundUp(N, micro.nr)) {
  if (K <= 0 || N <= 0) return;
  // 64-byte aligned: the micro-kernels load B panels with aligned vector loads.
  data_.reset(allocateFloats(bytes() / sizeof(float), false));
  if (!data_) throw std::bad_alloc();
  for (int pc = 0; pc < K; pc += kcBlock_) {
    const float* b = transB ? B + pc : B + static_cast<ptrdiff_t>(pc) * ldb;
    micro.packB(transB, b, ldb, N, std::min(kcBlock_, K - pc), data_.get() + columnsPadded_ * pc);
  }
}

void sgemmPackedB(const PackedGemmB& b, int col0, int cols, bool transA, int M, float alpha, const float* A, int lda,
                  float beta, float* C, int ldc) {
  const int K = b.depth();
  if (!prepareC(M, cols, K, alpha, beta, C, ldc)) return;
  const GemmMicroKernel& micro = *b.micro();
  const int MR = micro.mr, NR = micro.nr, kcBlock = b.kcBlock();
  const int mcBlock = std::min(roundUp(M, MR), micro.mc);
  const int ncBlock = std::min(roundUp(cols, NR), micro.nc);
  thread_local PackBuffer bufferA;
  float* packedA = bufferA.reserve(static_cast<size_t>(mcBlock) * kcBlock);
  for (int jc = 0; jc < cols; jc += ncBlock) {
    const int nc = std::min(ncBlock, cols - jc);
    for (int pc = 0; pc < K; pc += kcBlock) {
      const int kc = std::min(kcBlock, K - pc);
      const bool accumulate = pc > 0 || beta == 1.f;
      for (int ic = 0; ic < M; ic += mcBlock) {
        const int mc = std::min(mcBlock, M - ic);
        const float* a = transA ? A + static_cast<ptrdiff_t>(pc) * lda + ic : A + static_cast<ptrdiff_t>(ic) * lda + pc;
        packATiles(micro, transA, a, lda, mc, kc, packedA);
        for (int jr = 0; jr < nc; jr += NR)
          sweepPanel(micro, kc, packedA, mc, b.panel(pc, col0 + jc + jr), alpha, accumulate,
                     C + static_cast<ptrdiff_t>(ic) * ldc + jc + jr, ldc, std::min(NR, nc - jr));
      }
    }
  }
}

}  // namespace lrp::kernels
