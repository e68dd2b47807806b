// Row convolution: a direct convolution whose vector lanes are consecutive output positions of one output row, for
// convolutions with few input or few output channels, where the other kernels' tiles run mostly empty.
//
// Why: the implicit GEMM and the direct kernel put 6–16 output channels and a depth's worth of taps in each tile. An
// RGB stem is 27 deep (3 channels × 3×3), so its tiles spend about as long packing and storing as multiplying; its
// transposed step has 3 output channels (6 or 9 for z⁺ and zᴮ, whose inputs are stacked), which left most of a GEMM
// tile empty and a col2im pass after it. Here a tile is up to 6 output channels × up to
// 32 positions along a row: each tap loads the positions' inputs as vectors straight from the (padded) image, one
// weight per channel is broadcast, and the results are stored as the NCHW rows they are, without a transpose.
#pragma once

#include <cstdint>
#include <vector>

#include "conv_gemm.h"

namespace lrp::kernels {

// W [rows, depth] depth-major, as the row kernel reads it: packed[k·rows + r] = W[r, k].
std::vector<float> packRowConvWeights(const float* weight, int rows, int depth);

// True where convRows runs on this CPU (AVX2+FMA) and is the faster choice: stride 1 along the rows, and a depth
// under 32 (a stem) or fewer than 16 output channels (a stem's transposed step).
bool convRowsSuits(const ConvShape& shape, int outChannels);

// convGemm's contract (conv_gemm.h: the columns [col0, col0 + cols) of the virtual product; any split over threads
// gives the same bits), with W from packRowConvWeights instead of problem.packed, for a shape with stride 1 along the
// rows whose taps all lie inside the image (no padding on any side: they are read unchecked). Each output value is
// summed over the depth in order, k = c·taps + t. Without AVX2, a plain loop in the same order.
void convRows(const ConvGemmProblem& problem, const float* weightsByDepth, int64_t col0, int64_t cols);

#if defined(__x86_64__) || defined(_M_X64)
// The AVX2+FMA implementation behind convRows (call only where cpuFeatures().avx2Fma).
void convRowsAvx2(const ConvGemmProblem& problem, const float* weightsByDepth, int64_t col0, int64_t cols);
#endif

}  // namespace lrp::kernels
