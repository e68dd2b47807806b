// GEMM with B packed once: a dense layer's weights are the B of every product of that layer, which sgemm would pack
// again on every call (at batch 16 the packing took as long as the products).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "gemm_blocked.h"

namespace lrp::kernels {

// op(B) (K×N; B row-major with leading dimension ldb, N×K when transB) in a micro-kernel's B panels: for each K block
// of balancedBlock(K, KC, 8) rows, as sgemmBlocked cuts K, every panel of NR columns, k-major and zero-padded to NR.
class PackedGemmB {
 public:
  PackedGemmB() = default;
  PackedGemmB(const GemmMicroKernel& micro, bool transB, const float* B, int ldb, int K, int N);

  const GemmMicroKernel* micro() const { return micro_; }
  int depth() const { return K_; }
  int columns() const { return N_; }
  int kcBlock() const { return kcBlock_; }
  // The panel of K block pc (a multiple of kcBlock) whose first column is `column` (a multiple of NR).
  const float* panel(int pc, int column) const {
    return data_.get() + columnsPadded_ * pc + static_cast<ptrdiff_t>(column) * std::min(kcBlock_, K_ - pc);
  }
  size_t bytes() const { return static_cast<size_t>(columnsPadded_) * K_ * sizeof(float); }

 private:
  struct FloatsDelete {
    void operator()(float* p) const;
  };
  const GemmMicroKernel* micro_ = nullptr;
  int K_ = 0, N_ = 0, kcBlock_ = 0;
  int64_t columnsPadded_ = 0;  // N rounded up to NR: a K block of depth kc holds columnsPadded_ · kc floats
  std::unique_ptr<float[], FloatsDelete> data_;
};

// C[:, 0:cols] = alpha · op(A) · op(B)[:, col0:col0 + cols] + beta · C, op(A) M×K; col0 a multiple of the micro-kernel's
// NR. The same K blocks, tiles and operations per element as sgemmBlocked with that micro-kernel: the same bits.
// Single-threaded; callers split the columns by panels.
void sgemmPackedB(const PackedGemmB& b, int col0, int cols, bool transA, int M, float alpha, const float* A, int lda,
                  float beta, float* C, int ldc);

}  // namespace lrp::kernels
