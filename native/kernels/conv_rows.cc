// The row convolution's weight layout, its choice and its portable loop (conv_rows.h); the AVX2 kernel is in
// conv_rows_avx2.cc.
#include "conv_rows.h"

#include <cstddef>

#include "conv_direct.h"
#include "cpu_features.h"

namespace lrp::kernels {

std::vector<float> packRowConvWeights(const float* weight, int rows, int depth) {
  std::vector<float> packed(size_t(rows) * size_t(depth));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < depth; ++k) packed[size_t(k * rows + r)] = weight[r * depth + k];
  return packed;
}

bool convRowsSuits(const ConvShape& shape, int outChannels) {
#if defined(__x86_64__) || defined(_M_X64)
  if (!cpuFeatures().avx2Fma || outChannels < 1 || shape.strideWidth != 1) return false;
  // Under 32 deep the other kernels' tiles spend about as long on packing and stores as on FMAs; under 16 output
  // channels the direct kernel's 16-channel panels run part empty and the GEMM's tiles are as short. Zen 3, 2 threads,
  // batch 128, per-layer times in the models (two or three alternating runs of each build, the host's slow phase):
  // resnet18-64's stem (3 → 32 channels at 64×64) forward 12.9–15.7 → 10.4–14.2 ms against the implicit GEMM, its ε
  // relevance step 15.1–19.3 → 11.5–12.7 ms against col2im; vgg-cifar's (3 → 64 at 32×32) forward 6.1–8.8 → 4.7–5.3
  // ms, its relevance step level (memory-bound: R and z read once either way); z⁺'s step on resnet18-64's stem (its
  // transposed product onto the 6 stacked channels) 37.6–39.7 → 34.4–35.0 ms. The kernel alone, one thread, in cache
  // (two runs): 62–66 / 58–80 / 61–80 GFLOP/s for 3 → 64, 64 → 3, 64 → 6 channels against the implicit GEMM's 56–59 /
  // 42–51 / 59–76.
  return int64_t(shape.channels) * shape.kernelHeight * shape.kernelWidth < 32 || outChannels < 16;
#else
  (void)shape;
  (void)outChannels;
  return false;
#endif
}

void convRows(const ConvGemmProblem& problem, const float* weightsByDepth, int64_t col0, int64_t cols) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpuFeatures().avx2Fma) return convRowsAvx2(problem, weightsByDepth, col0, cols);
#endif
  // Without AVX2: the plain loop, over the depth in the same order.
  const int rows = problem.outChannels;
  convDirectLoop(problem, 1, [&](int r, int k) { return weightsByDepth[int64_t(k) * rows + r]; }, col0, cols);
}

}  // namespace lrp::kernels
