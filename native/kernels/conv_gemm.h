// Convolution as an implicit GEMM: y[n] = alpha · (W · im2col(x[n]) + bias) (+ y[n]) for a range of the virtual im2col matrix's
// columns (sample n, output position p) of several images, without writing that matrix out. The blocked GEMM driver
// packs its B panels straight from the images and stores C tiles straight into each sample's output, so there is no
// im2col buffer, no scatter of a multi-image result, and the work splits over columns for any batch size.
#pragma once

#include <cstdint>
#include <vector>

#include "conv.h"

namespace lrp::kernels {

struct ConvGemmProblem {
  ConvShape shape;            // one group: input channels, sizes, kernel, stride, padding, dilation
  int outChannels;            // M: rows of W and channels of y
  const float* weight;        // W [outChannels, channels·kh·kw], row-major
  const float* x;             // images, `xSampleStride` floats apart
  int64_t xSampleStride;
  float* y;                   // outputs [outChannels, outHeight·outWidth], `ySampleStride` floats apart
  int64_t ySampleStride;
  const float* bias;          // per output channel, or null
  float alpha;                // y = alpha · (W · im2col(x) + bias)
  bool accumulate;            // y += … instead of y = …
};

// Computes the columns [col0, col0 + cols) of the virtual [K, count·outHeight·outWidth] product: column c is output
// position c % (outHeight·outWidth) of sample c / (outHeight·outWidth) (samples counted from problem.x and problem.y).
// A column's result does not depend on how the columns are split, so threads may take any ranges.
using ConvGemmFunction = void (*)(const ConvGemmProblem& problem, int64_t col0, int64_t cols);

struct ConvGemmKernel {
  const char* name;  // the GEMM kernel it uses: "scalar", "avx2-fma", "avx512f", "neon"
  ConvGemmFunction function;
};

// The implementation matching sgemm's choice.
void convGemm(const ConvGemmProblem& problem, int64_t col0, int64_t cols);

// Every implementation this CPU can run, the portable one (im2col + sgemmScalar) first and the one convGemm uses last.
const std::vector<ConvGemmKernel>& availableConvGemmKernels();

}  // namespace lrp::kernels
