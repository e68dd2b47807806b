// The AVX2+FMA direct convolution (conv_direct.h): tiles of 6 output positions × 16 output channels, the positions'
// input values broadcast from the image, a 16-channel weight row per kernel tap. Function target attributes as in
// gemm_avx2.cc, so the binary still runs where AVX2 is missing (conv_direct.cc calls this only after checking).
#include "conv_direct.h"
#include "transpose_avx.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <vector>

#if defined(__GNUC__) || defined(__clang__)
#define LRP_AVX2 __attribute__((target("avx2,fma")))
#else
#define LRP_AVX2
#endif

namespace lrp::kernels {

namespace {

constexpr int kTilePositions = 6;
constexpr int kLanes = kDirectConvChannels;
// Positions per block: each 16-channel panel of W (depth·64 bytes: 18 KiB for 32 channels × 3×3) is swept over a
// block's tiles while it sits in L1, and the block's input rows are read once per panel from L1/L2.
constexpr int kBlockPositions = 96;

// stage[r·stride + j] = Σ_k source[j][offsets[k]] · weights[k·16 + r] for r < 16 and j < 6, the sum in k order in
// registers; stage[r·stride + 6] and [+ 7] are overwritten with zeros (the next tile's first positions, stored after).
LRP_AVX2 void tile6x16(int depth, const int64_t* offsets, const float* const* source, const float* weights,
                       float* stage, int64_t stride) {
  const float *s0 = source[0], *s1 = source[1], *s2 = source[2], *s3 = source[3], *s4 = source[4], *s5 = source[5];
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  // Unrolled by 4 (Zen 3, 2 threads, batch 128: 3×3 stride 2 from 32 to 64 channels 8.43 → 7.87 ms, 128 channels at
  // 16×16 53.1 → 52.1 ms, 256 at 4×4 level); the same FMAs in the same order.
#if defined(__GNUC__)
#pragma GCC unroll 4
#endif
  for (int k = 0; k < depth; ++k, weights += kLanes) {
    const int64_t o = offsets[k];
    const __m256 b0 = _mm256_loadu_ps(weights), b1 = _mm256_loadu_ps(weights + 8);
    __m256 a = _mm256_broadcast_ss(s0 + o);
    c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(s1 + o);
    c10 = _mm256_fmadd_ps(a, b0, c10);
    c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(s2 + o);
    c20 = _mm256_fmadd_ps(a, b0, c20);
    c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(s3 + o);
    c30 = _mm256_fmadd_ps(a, b0, c30);
    c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(s4 + o);
    c40 = _mm256_fmadd_ps(a, b0, c40);
    c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(s5 + o);
    c50 = _mm256_fmadd_ps(a, b0, c50);
    c51 = _mm256_fmadd_ps(a, b1, c51);
  }
  const __m256 zero = _mm256_setzero_ps();
  x86::transpose8x8(c00, c10, c20, c30, c40, c50, zero, zero, stage, int(stride));
  x86::transpose8x8(c01, c11, c21, c31, c41, c51, zero, zero, stage + 8 * stride, int(stride));
}

// y[i] = alpha·acc[i] (+ y[i]) + alpha·bias, then · scale[i], and max(y[i], 0) copied to relu[i], for a run of
// consecutive positions of one channel: convGemm's epilogue, in its order.
LRP_AVX2 void finishRun(const ConvGemmProblem& p, const float* acc, int64_t at, int length, float bias) {
  float* y = p.y + at;
  const float alpha = p.alpha;
  if (p.accumulate) {
    for (int i = 0; i < length; ++i) y[i] = alpha * acc[i] + y[i];
  } else {
    for (int i = 0; i < length; ++i) y[i] = alpha * acc[i];
  }
  if (p.bias)
    for (int i = 0; i < length; ++i) y[i] += bias;
  if (p.scale) {
    const float* scale = p.scale + at;
    for (int i = 0; i < length; ++i) y[i] *= scale[i];
  }
  if (p.relu) {
    float* relu = p.relu + at;
    for (int i = 0; i < length; ++i) relu[i] = y[i] > 0.f ? y[i] : 0.f;
  }
}

// convDirectAvx2 (interleave 1: planar x) and convDirectInterleavedAvx2 (interleave 8: the channel-interleaved
// layout, its depth in that order): only where each k and each position read x differs.
LRP_AVX2 void convDirectTiles(const ConvGemmProblem& p, const float* packedWeights, int64_t col0, int64_t cols,
                              int interleave) {
  const ConvShape& s = p.shape;
  const int taps = s.kernelHeight * s.kernelWidth, depth = s.channels * taps;
  const int64_t positions = int64_t(s.outHeight) * s.outWidth;
  const std::vector<int64_t> offsets = directConvOffsets(s, interleave);
  const int panels = (p.outChannels + kLanes - 1) / kLanes;
  constexpr int64_t kStride = kBlockPositions + 8;  // a stage row: the block's positions and a tile's spill
  alignas(32) float stage[kLanes * kStride];
  const float* source[kBlockPositions + kTilePositions];
  int runStart[kBlockPositions + 1];  // the block's positions split where the sample changes
  int64_t runTarget[kBlockPositions];  // each run's first offset in y (channel 0)
  // The position of column col0, then stepped along without divisions (they cost ~14% of a 288-deep layer's time).
  int64_t n = col0 / positions, q = col0 % positions, oh = q / s.outWidth, ow = q % s.outWidth;
  const float* sample = p.x + n * p.xSampleStride;
  for (int64_t begin = col0, end = col0 + cols; begin < end; begin += kBlockPositions) {
    const int count = int(std::min<int64_t>(kBlockPositions, end - begin));
    int runs = 0;
    for (int e = 0; e < count; ++e) {
      source[e] = sample + (oh * s.strideHeight * s.width + ow * s.strideWidth) * interleave;
      if (e == 0 || q == 0) {
        runStart[runs] = e;
        runTarget[runs++] = n * p.ySampleStride + q;
      }
      ++q;
      if (++ow == s.outWidth) {
        ow = 0;
        if (++oh == s.outHeight) {
          oh = 0;
          q = 0;
          ++n;
          sample += p.xSampleStride;
        }
      }
    }
    runStart[runs] = count;
    for (int e = count; e < count + kTilePositions; ++e) source[e] = source[0];  // a short last tile reads valid memory
    for (int panel = 0; panel < panels; ++panel) {
      const float* weights = packedWeights + int64_t(panel) * depth * kLanes;
      for (int t = 0; t < count; t += kTilePositions) tile6x16(depth, offsets.data(), source + t, weights, stage + t, kStride);
      const int channel0 = panel * kLanes, channels = std::min(kLanes, p.outChannels - channel0);
      for (int r = 0; r < channels; ++r) {
        const int64_t channelOffset = int64_t(channel0 + r) * positions;
        const float bias = p.bias ? p.alpha * p.bias[channel0 + r] : 0.f;
        for (int u = 0; u < runs; ++u)
          finishRun(p, stage + r * kStride + runStart[u], runTarget[u] + channelOffset, runStart[u + 1] - runStart[u], bias);
      }
    }
  }
}

}  // namespace

LRP_AVX2 void convDirectAvx2(const ConvGemmProblem& p, const float* packedWeights, int64_t col0, int64_t cols) {
  convDirectTiles(p, packedWeights, col0, cols, 1);
}

LRP_AVX2 void convDirectInterleavedAvx2(const ConvGemmProblem& p, const float* packedWeights, int64_t col0,
                                        int64_t cols) {
  convDirectTiles(p, packedWeights, col0, cols, kInterleavedChannels);
}

// Eight positions at a time: the 8×8 block of rows[0..7][w..w+8) transposed; the rest value by value.
LRP_AVX2 void interleaveChannelRowsAvx2(const float* const* rows, int width, float* out) {
  int w = 0;
  for (; w + 8 <= width; w += 8)
    x86::transpose8x8(_mm256_loadu_ps(rows[0] + w), _mm256_loadu_ps(rows[1] + w), _mm256_loadu_ps(rows[2] + w),
                      _mm256_loadu_ps(rows[3] + w), _mm256_loadu_ps(rows[4] + w), _mm256_loadu_ps(rows[5] + w),
                      _mm256_loadu_ps(rows[6] + w), _mm256_loadu_ps(rows[7] + w), out + w * 8, 8);
  for (; w < width; ++w)
    for (int c = 0; c < 8; ++c) out[w * 8 + c] = rows[c][w];
}

}  // namespace lrp::kernels

#endif
