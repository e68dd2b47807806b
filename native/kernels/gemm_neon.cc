// arm64 GEMM kernel for NEON (Advanced SIMD, part of the arm64 baseline): 8×12 micro-kernel with packing.
#include "gemm_blocked.h"

#if defined(__aarch64__) || defined(_M_ARM64)

#include <arm_neon.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace lrp::kernels {

namespace {

constexpr int kMR = 8, kNR = 12;

void packA8(bool transA, const float* A, int lda, int rows, int depth, float* packed) {
  for (int i0 = 0; i0 < rows; i0 += kMR, packed += kMR * depth) {
    const int r = std::min(kMR, rows - i0);
    if (transA) {  // op(A)(i, k) = A[k·lda + i]
      for (int k = 0; k < depth; ++k) {
        const float* src = A + static_cast<ptrdiff_t>(k) * lda + i0;
        float* dst = packed + k * kMR;
        if (r == kMR) {
          vst1q_f32(dst, vld1q_f32(src));
          vst1q_f32(dst + 4, vld1q_f32(src + 4));
        } else {
          for (int i = 0; i < kMR; ++i) dst[i] = i < r ? src[i] : 0.f;
        }
      }
    } else {  // op(A)(i, k) = A[i·lda + k]
      const float* src[kMR];
      for (int i = 0; i < kMR; ++i) src[i] = A + static_cast<ptrdiff_t>(i0 + std::min(i, r - 1)) * lda;
      for (int k = 0; k < depth; ++k)
        for (int i = 0; i < kMR; ++i) packed[k * kMR + i] = i < r ? src[i][k] : 0.f;
    }
  }
}

void packB12(bool transB, const float* B, int ldb, int cols, int depth, float* packed) {
  const int panels = (cols + kNR - 1) / kNR;
  if (!transB) {  // op(B)(k, j) = B[k·ldb + j], row by row
    const int fullPanels = cols / kNR, rest = cols - fullPanels * kNR;
    for (int k = 0; k < depth; ++k) {
      const float* src = B + static_cast<ptrdiff_t>(k) * ldb;
      float* dst = packed + k * kNR;
      for (int p = 0; p < fullPanels; ++p) {
        vst1q_f32(dst, vld1q_f32(src));
        vst1q_f32(dst + 4, vld1q_f32(src + 4));
        vst1q_f32(dst + 8, vld1q_f32(src + 8));
        src += kNR;
        dst += static_cast<ptrdiff_t>(kNR) * depth;
      }
      if (rest)
        for (int j = 0; j < kNR; ++j) dst[j] = j < rest ? src[j] : 0.f;
    }
    return;
  }
  // op(B)(k, j) = B[j·ldb + k]: 4×4 transposes of B's rows.
  for (int p = 0; p < panels; ++p) {
    float* panel = packed + static_cast<ptrdiff_t>(p) * kNR * depth;
    for (int quarter = 0; quarter < 3; ++quarter) {
      const int j0 = p * kNR + quarter * 4;
      const int valid = std::max(0, std::min(4, cols - j0));
      const float* row[4];
      for (int r = 0; r < 4; ++r) row[r] = B + static_cast<ptrdiff_t>(j0 + std::min(r, std::max(valid - 1, 0))) * ldb;
      float* out = panel + quarter * 4;
      int k = 0;
      if (valid == 4) {
        for (; k + 4 <= depth; k += 4) {
          float32x4x4_t rows;
          rows.val[0] = vld1q_f32(row[0] + k);
          rows.val[1] = vld1q_f32(row[1] + k);
          rows.val[2] = vld1q_f32(row[2] + k);
          rows.val[3] = vld1q_f32(row[3] + k);


          const float32x4_t t0 = vtrn1q_f32(rows.val[0], rows.val[1]), t1 = vtrn2q_f32(rows.val[0], rows.val[1]);
          const float32x4_t t2 = vtrn1q_f32(rows.val[2], rows.val[3]), t3 = vtrn2q_f32(rows.val[2], rows.val[3]);
          const float64x2_t d0 = vreinterpretq_f64_f32(t0), d1 = vreinterpretq_f64_f32(t1);
          const float64x2_t d2 = vreinterpretq_f64_f32(t2), d3 = vreinterpretq_f64_f32(t3);
          vst1q_f32(out + (k + 0) * kNR, vreinterpretq_f32_f64(vtrn1q_f64(d0, d2)));
          vst1q_f32(out + (k + 1) * kNR, vreinterpretq_f32_f64(vtrn1q_f64(d1, d3)));
          vst1q_f32(out + (k + 2) * kNR, vreinterpretq_f32_f64(vtrn2q_f64(d0, d2)));
          vst1q_f32(out + (k + 3) * kNR, vreinterpretq_f32_f64(vtrn2q_f64(d1, d3)));
        }
      }
      for (; k < depth; ++k)
        for (int r = 0; r < 4; ++r) out[k * kNR + r] = r < valid ? row[r][k] : 0.f;
    }
  }
}

// 8×12 micro-kernel: 24 q-register accumulators, 2 A and 3 B loads per k, FMAs by lane.
#define LRP_ROW(i, av, lane)                          \
  acc##i##0 = vfmaq_laneq_f32(acc##i##0, b0, av, lane); \
  acc##i##1 = vfmaq_laneq_f32(acc##i##1, b1, av, lane); \
  acc##i##2 = vfmaq_laneq_f32(acc##i##2, b2, av, lane)

// One row of the tile: C = alpha · acc, or C = fma(alpha, acc, C), explicitly, so full and edge tiles round alike.
#define LRP_STORE_ROW(dst, stride, i)                                                   \
  do {                                                                             \
    float* cr = (dst) + (i) * static_cast<ptrdiff_t>(stride);                           \
    if (accumulate) {                                                              \
      vst1q_f32(cr, vfmaq_n_f32(vld1q_f32(cr), acc##i##0, alpha));                 \
      vst1q_f32(cr + 4, vfmaq_n_f32(vld1q_f32(cr + 4), acc##i##1, alpha));         \
      vst1q_f32(cr + 8, vfmaq_n_f32(vld1q_f32(cr + 8), acc##i##2, alpha));         \
    } else {                                                                       \
      vst1q_f32(cr, vmulq_n_f32(acc##i##0, alpha));                                \
      vst1q_f32(cr + 4, vmulq_n_f32(acc##i##1, alpha));                            \
      vst1q_f32(cr + 8, vmulq_n_f32(acc##i##2, alpha));                            \
    }                                                                              \
  } while (0)

#define LRP_STORE_ALL(dst, stride) \
  LRP_STORE_ROW(dst, stride, 0);   \
  LRP_STORE_ROW(dst, stride, 1);   \
  LRP_STORE_ROW(dst, stride, 2);   \
  LRP_STORE_ROW(dst, stride, 3);   \
  LRP_STORE_ROW(dst, stride, 4);   \
  LRP_STORE_ROW(dst, stride, 5);   \
  LRP_STORE_ROW(dst, stride, 6);   \
  LRP_STORE_ROW(dst, stride, 7)

void kernel8x12(int depth, const float* a, const float* b, float alpha, bool accumulate, float* C, int ldc, int rows,
                int cols) {
  const float32x4_t z = vdupq_n_f32(0.f);
  float32x4_t acc00 = z, acc01 = z, acc02 = z, acc10 = z, acc11 = z, acc12 = z, acc20 = z, acc21 = z, acc22 = z, acc30 = z, acc31 = z, acc32 = z;
  float32x4_t acc40 = z, acc41 = z, acc42 = z, acc50 = z, acc51 = z, acc52 = z, acc60 = z, acc61 = z, acc62 = z, acc70 = z, acc71 = z, acc72 = z;
  for (int k = 0; k < depth; ++k) {
    const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
    LRP_ROW(0, a0, 0);
    LRP_ROW(1, a0, 1);
    LRP_ROW(2, a0, 2);
    LRP_ROW(3, a0, 3);
    LRP_ROW(4, a1, 0);
    LRP_ROW(5, a1, 1);
    LRP_ROW(6, a1, 2);
    LRP_ROW(7, a1, 3);
    a += kMR;
    b += kNR;
  }
  if (rows == kMR && cols == kNR) {
    LRP_STORE_ALL(C, ldc);
    return;
  }
  // Edge tiles go through a full-size scratch tile so every element sees exactly the same operations.
  float tile[kMR * kNR] = {};
  if (accumulate)
    for (int r = 0; r < rows; ++r)
      std::memcpy(tile + r * kNR, C + static_cast<ptrdiff_t>(r) * ldc, sizeof(float) * static_cast<size_t>(cols));
  LRP_STORE_ALL(tile, kNR);
  for (int r = 0; r < rows; ++r)
    std::memcpy(C + static_cast<ptrdiff_t>(r) * ldc, tile + r * kNR, sizeof(float) * static_cast<size_t>(cols));
}

#undef LRP_ROW
#undef LRP_STORE_ROW
#undef LRP_STORE_ALL

const GemmMicroKernel kNeonMicro{kMR, kNR, /*kc*/ 256, /*mc*/ 128, /*nc*/ 3072, packA8, packB12, kernel8x12, nullptr};

}  // namespace

const GemmMicroKernel& neonMicroKernel() { return kNeonMicro; }

void sgemmNeon(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
               int ldb, float beta, float* C, int ldc) {
  sgemmBlocked(kNeonMicro, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace lrp::kernels

#endif
