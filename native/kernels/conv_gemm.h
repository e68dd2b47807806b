// Convolution as an implicit GEMM: y[n] = alpha · (W · im2col(x[n]) + bias) (+ y[n]) for a range of the virtual im2col matrix's
// columns (sample n, output position p) of several images, without writing that matrix out. The blocked GEMM driver
// packs its B panels straight from the images and stores C tiles straight into each sample's output, so there is no
// im2col buffer, no scatter of a multi-image result, and the work splits over columns for any batch size.
#pragma once

#include <cstdint>
#include <vector>

#include "conv.h"

namespace lrp::kernels {

// W already in the micro-kernel's panel layout (all K blocks, all rows), made once per weight tensor by
// packConvWeights so that calls skip packing it: the whole cost of packing at batch 1.
struct PackedConvWeights {
  const float* data = nullptr;  // null: pack on the fly
  const void* layout = nullptr; // the micro-kernel it was packed for (ignored by any other)
  int64_t rowStride = 0;        // floats per unit of K: the rows rounded up to the tile height
  int rowOffset = 0;            // this problem's first row within the packed matrix (a multiple of the tile height)
};

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
  PackedConvWeights packed;   // optional: `weight` prepacked
  float* relu = nullptr;      // optional: also max(y, 0) here (laid out as y), written while each tile is in cache;
                              // may be y, which then holds max(y, 0) alone
  const float* scale = nullptr;  // optional: y = scale ⊙ (…) elementwise (laid out as y), after the bias and before
                                 // the ReLU copy, while each tile is in cache; not with `accumulate`
};

// Computes the columns [col0, col0 + cols) of the virtual [K, count·outHeight·outWidth] product: column c is output
// position c % (outHeight·outWidth) of sample c / (outHeight·outWidth) (samples counted from problem.x and problem.y).
// A column's result does not depend on how the columns are split, so threads may take any ranges.
using ConvGemmFunction = void (*)(const ConvGemmProblem& problem, int64_t col0, int64_t cols);

struct ConvGemmKernel {
  const char* name;  // the GEMM kernel it uses: "scalar", "avx2-fma", "avx512f", "neon"
  ConvGemmFunction function;
  const void* layout;  // what PackedConvWeights::layout must be for it to use prepacked weights (null: never)
};

// W [rows, depth] packed for convGemm's kernel: `data` to keep and a PackedConvWeights (without rowOffset) to pass.
// `tileRows` is the tile height: problems over a subset of the rows must start at a multiple of it. Empty (and
// tileRows 1) where convGemm does not pack (the portable version).
struct ConvWeightPacking {
  std::vector<float> data;
  PackedConvWeights view;
  int tileRows = 1;
};
ConvWeightPacking packConvWeights(const float* weight, int rows, int depth);

// True where convGemm would read most B panels of the unpadded version of this padded convolution in place (stride-1
// rows of whole half-panels, with a kernel that has GemmMicroKernel::kernelAt): the caller should then pad a copy of
// the input once and pass the unpadded shape, instead of having every panel packed (each input value copied once per
// kernel tap).
bool convGemmPrefersPaddedInput(const ConvShape& shape);

// True where convGemm reads most of its B panels in place for this convolution: as it is (unpadded, stride 1, output
// rows of whole half-panels) or after the caller pads a copy of the input (convGemmPrefersPaddedInput).
bool convGemmReadsInPlace(const ConvShape& shape);

// The implementation matching sgemm's choice.
void convGemm(const ConvGemmProblem& problem, int64_t col0, int64_t cols);

// Every implementation this CPU can run, the portable one (im2col + sgemmScalar) first and the one convGemm uses last.
const std::vector<ConvGemmKernel>& availableConvGemmKernels();

}  // namespace lrp::kernels
