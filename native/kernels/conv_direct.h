// Direct convolution: the output channels lie in the vector lanes and each input value is broadcast straight from the
// image, so nothing of the input is packed or gathered per kernel tap.
//
// Why: a strided convolution's im2col panels cannot be read in place, and the implicit GEMM (conv_gemm.h) gathers
// them value by value: ResNet's 3×3 stride-2 layers ran at ~100–150 GFLOP/s against ~160 for its stride-1 ones. Here
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

// True where convDirect runs on this CPU (AVX2+FMA) and is the faster choice for this shape and output channel
// count. The shape must have no padding (pad a copy of the input first) and one group.
bool convDirectSuits(const ConvShape& shape, int outChannels);

// convGemm's contract (conv_gemm.h: the columns [col0, col0 + cols) of the virtual product, any split over threads
// gives the same bits), with W from packDirectConvWeights instead of problem.weight and problem.packed. Only where
// convDirectSuits says so.
void convDirect(const ConvGemmProblem& problem, const float* packedWeights, int64_t col0, int64_t cols);

#if defined(__x86_64__) || defined(_M_X64)
// The AVX2+FMA implementation behind convDirect (call only where cpuFeatures().avx2Fma).
void convDirectAvx2(const ConvGemmProblem& problem, const float* packedWeights, int64_t col0, int64_t cols);
#endif

}  // namespace lrp::kernels
