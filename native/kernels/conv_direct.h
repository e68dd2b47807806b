// Direct convolution: the output channels lie in the vector lanes and each input value is broadcast straight from the
// image, so nothing of the input is packed or gathered per kernel tap.
//
// Why: where the implicit GEMM (conv_gemm.h) cannot read its im2col panels in place it packs them, copying each input
// value once per kernel tap (stride 1 on maps whose padded copy would be too large a detour: 16×16 and smaller) or
// gathering it value by value (strides above 1: ResNet's 3×3 stride-2 layers ran at ~100–150 GFLOP/s). Here
// a tile is 6 output positions (anywhere in the batch, each with its own input pointer) × 16 output channels: W is
// packed once per model into 16-channel panels, k-major, and the tile is stored transposed into the NCHW output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "conv_gemm.h"

namespace lrp::kernels {

// Output channels per tile, and per panel of packed weights.
constexpr int kDirectConvChannels = 16;

// W [rows, depth] as panels of 16 rows, k-major within a panel: packed[(panel·depth + k)·16 + r] = W[panel·16 + r, k]
// (zero for rows beyond `rows`).
std::vector<float> packDirectConvWeights(const float* weight, int rows, int depth);

// True where convDirect runs on this CPU (AVX2+FMA) and is the faster choice for this convolution (padding allowed:
// the caller then pads a copy of the input, as convDirect reads every tap unchecked) over `samples` images.
bool convDirectSuits(const ConvShape& shape, int outChannels, int samples);

// convGemm's contract (conv_gemm.h: the columns [col0, col0 + cols) of the virtual product, any split over threads
// gives the same bits), with W from packDirectConvWeights instead of problem.packed, for a shape whose taps all lie
// inside the image (no padding on any side: they are read unchecked). Without AVX2 it runs convGemm on
// problem.weight (the same values up to rounding).
void convDirect(const ConvGemmProblem& problem, const float* packedWeights, int64_t col0, int64_t cols);

// The channel-interleaved layout convDirectInterleaved reads: within a sample, x[c, h, w] at
// ((c / 8 · height + h) · width + w) · 8 + c % 8, so the 8 channels of a group at one position are one 32-byte run.
//
// Why: a tile's six positions then read their taps from a few contiguous lines per group of 8 channels, where the
// planar layout touches a line per channel and tap row, planes apart (4.6 KiB on a padded 32×32 map: past what the
// L1 prefetcher follows). Zen 3, 2 threads, batch 128, the kernel alone: 64 channels at 32×32 55.1 → 51.6 ms, 128 at
// 16×16 51.8 → 50.5 ms, 8×8 maps level. In the models (with 32×32 maps moved from the implicit GEMM to it, see
// convDirectSuits), explain calls alternating with the planar build: vgg-cifar b128 ε / ε+ / εγB 0.99 / 0.97 / 0.87,
// resnet18-64 0.97 / 0.97 / 0.93, b16 ε 0.93 for both.
constexpr int kInterleavedChannels = 8;

// True where convDirectInterleaved takes this shape: input channels a multiple of 8.
bool convDirectInterleaves(const ConvShape& shape);

// packDirectConvWeights of W [rows, channels·taps] with its depth in the interleaved order: k = (c / 8 · taps + t) · 8
// + c % 8 for channel c and tap t.
std::vector<float> packDirectConvWeightsInterleaved(const float* weight, int rows, int channels, int taps);

// convDirect's contract for x in the channel-interleaved layout (problem.x and xSampleStride as for the planar one),
// with W from packDirectConvWeightsInterleaved; shape.channels a multiple of 8. The sums run over the depth in the
// interleaved order (other roundings than convDirect's). Without AVX2, a plain loop.
void convDirectInterleaved(const ConvGemmProblem& problem, const float* packedWeights, int64_t col0, int64_t cols);

// Where the direct kernels read x for each k of the depth, relative to an output position's first input value: planar
// (interleave 1, k = c · taps + t) or channel-interleaved (interleave 8, k = (c / 8 · taps + t) · 8 + c % 8).
std::vector<int64_t> directConvOffsets(const ConvShape& shape, int interleave);

// The plain loop behind the portable direct kernels: each output value of the columns [col0, col0 + cols) summed over
// the depth in order, x read at directConvOffsets(shape, interleave) from the position's first input value, W[r, k]
// given by weight(r, k) from the kernel's own packing; then convGemm's epilogue (alpha, accumulate, bias, scale, ReLU
// copy).
template <class Weight>
void convDirectLoop(const ConvGemmProblem& p, int interleave, const Weight& weight, int64_t col0, int64_t cols) {
  const ConvShape& s = p.shape;
  const int depth = s.channels * s.kernelHeight * s.kernelWidth;
  const int64_t positions = int64_t(s.outHeight) * s.outWidth;
  const std::vector<int64_t> offsets = directConvOffsets(s, interleave);
  for (int64_t col = col0; col < col0 + cols; ++col) {
    const int64_t n = col / positions, q = col % positions, oh = q / s.outWidth, ow = q % s.outWidth;
    const float* source = p.x + n * p.xSampleStride + (oh * s.strideHeight * s.width + ow * s.strideWidth) * interleave;
    for (int r = 0; r < p.outChannels; ++r) {
      float acc = 0.f;
      for (int k = 0; k < depth; ++k) acc += source[offsets[size_t(k)]] * weight(r, k);
      const int64_t at = n * p.ySampleStride + int64_t(r) * positions + q;
      float y = p.accumulate ? p.alpha * acc + p.y[at] : p.alpha * acc;
      if (p.bias) y += p.alpha * p.bias[r];
      if (p.scale) y *= p.scale[at];
      p.y[at] = y;
      if (p.relu) p.relu[at] = y > 0.f ? y : 0.f;
    }
  }
}

// out[w·8 + c] = rows[c][w] for c < 8, w < width: one group of 8 channel rows in the interleaved layout.
void interleaveChannelRows(const float* const* rows, int width, float* out);

#if defined(__x86_64__) || defined(_M_X64)
// The AVX2+FMA implementations behind convDirect and convDirectInterleaved (call only where cpuFeatures().avx2Fma).
void convDirectAvx2(const ConvGemmProblem& problem, const float* packedWeights, int64_t col0, int64_t cols);
void convDirectInterleavedAvx2(const ConvGemmProblem& problem, const float* packedWeights, int64_t col0, int64_t cols);
void interleaveChannelRowsAvx2(const float* const* rows, int width, float* out);
#endif

}  // namespace lrp::kernels
