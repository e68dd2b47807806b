// Direct convolution: the output channels lie in the vector lanes and each input value is broadcast straight from the
// image, so nothing of the input is packed or gathered per kernel tap.
//
// Why: where the implicit GEMM (conv_gemm.h) cannot read its im2col panels in place it packs them, copying each input
// value once per kernel tap (stride 1 on maps whose padded copy would be too large a detour: 16×16 and smaller) or
// gathering it value by value (strides above 1: ResNet's 3×3 stride-2 layers ran at ~100–150 GFLOP/s). Here
// a tile is 6 output positions (anywhere in the batch, each with its own input pointer) × 16 output channels: W is
// packed once per model into 16-channel panels, k-major, and the tile is stored transposed into the NCHW output.
#pragma once

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

#if defined(__x86_64__) || defined(_M_X64)
// The AVX2+FMA implementation behind convDirect (call only where cpuFeatures().avx2Fma).
void convDirectAvx2(const ConvGemmProblem& problem, const float* packedWeights, int64_t col0, int64_t cols);
#endif

}  // namespace lrp::kernels
