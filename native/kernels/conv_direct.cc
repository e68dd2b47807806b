// The direct convolution's weight packing and its choice (conv_direct.h); the kernel is in conv_direct_avx2.cc.
#include "conv_direct.h"

#include <cstddef>

#include "cpu_features.h"

namespace lrp::kernels {

namespace {
constexpr int kLanes = kDirectConvChannels;
}

std::vector<float> packDirectConvWeights(const float* weight, int rows, int depth) {
  const int panels = (rows + kLanes - 1) / kLanes;
  std::vector<float> packed(size_t(panels) * size_t(depth) * kLanes, 0.f);
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < depth; ++k)
      packed[(size_t(r / kLanes) * size_t(depth) + size_t(k)) * kLanes + size_t(r % kLanes)] = weight[int64_t(r) * depth + k];
  return packed;
}

bool convDirectSuits(const ConvShape& shape, int outChannels) {
#if defined(__x86_64__) || defined(_M_X64)
  if (!cpuFeatures().avx2Fma || shape.padTop != 0 || shape.padLeft != 0 || outChannels < 1) return false;
  // Strided convolutions only: there the implicit GEMM gathers its panels value by value (Zen 3, 2 threads, batch
  // 128, the kernels alone: 3×3 stride 2 from 32, 64, 128 to 64, 128, 256 channels 11.8 / 9.8 / 7.9 ms → 8.0 / 7.3 /
  // 6.6; in the model 11.3 / 10.2 / 9.0 → 9.4 / 8.5 / 7.1 with the padded copy). At stride 1 it is level with the
  // in-place panels at batch 128 and slower at batch 1 (256 channels at 4×4: 0.16 → 0.23 ms), and shallow products
  // (an RGB stem, 27 deep) spend more on each tile's transposed store than on its FMAs (9.3 vs 14.4 ms).
  const bool strided = shape.strideHeight > 1 || shape.strideWidth > 1;
  return strided && int64_t(shape.channels) * shape.kernelHeight * shape.kernelWidth >= 32;
#else
  (void)shape;
  (void)outChannels;
  return false;
#endif
}

void convDirect(const ConvGemmProblem& problem, const float* packedWeights, int64_t col0, int64_t cols) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpuFeatures().avx2Fma) return convDirectAvx2(problem, packedWeights, col0, cols);
#endif
  // Without the AVX2 kernel: the implicit GEMM on the unpacked weights, the same result.
  (void)packedWeights;
  ConvGemmProblem unpacked = problem;
  unpacked.packed = PackedConvWeights{};
  convGemm(unpacked, col0, cols);
}

}  // namespace lrp::kernels
