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

bool convDirectSuits(const ConvShape& shape, int outChannels, int samples) {
#if defined(__x86_64__) || defined(_M_X64)
  if (!cpuFeatures().avx2Fma || outChannels < 1) return false;
  // Shallow products (an RGB stem, 27 deep) spend more on each tile's transposed store than on its FMAs (3 → 32
  // channels at 64×64, batch 128: 14.4 vs 9.3 ms for the implicit GEMM). Measured on Zen 3, 2 threads, batch 128, the
  // kernels alone: 3×3 stride 2 from 32, 64, 128 to 64, 128, 256 channels 11.8 / 9.8 / 7.9 ms → 8.0 / 7.3 / 6.6;
  // stride 1 where convGemm packs its panels (64, 128, 256 channels at 16×16, 8×8, 4×4) 15.8 / 14.5 / 14.0 →
  // 14.1 / 12.7 / 12.3 ms, from batch 4 on. Where convGemm reads its panels in place (32×32 maps) the planar direct
  // kernel is level with it, the interleaved one (a padded copy, channels in groups of 8) a little ahead: vgg-cifar
  // batch 16 ε, in-process A/B 0.97. At batch 1 the direct one is slower on 4×4 and 16×16 maps (in the model:
  // 0.16 → 0.23 ms and 0.16 → 0.19 ms).
  if (int64_t(shape.channels) * shape.kernelHeight * shape.kernelWidth < 32) return false;
  if (shape.strideHeight > 1 || shape.strideWidth > 1) return true;
  const bool padded = shape.padTop > 0 || shape.padLeft > 0;
  return samples >= 4 && (!convGemmReadsInPlace(shape) || (padded && convDirectInterleaves(shape)));
#else
  (void)shape;
  (void)outChannels;
  (void)samples;
  return false;
#endif
}

bool convDirectInterleaves(const ConvShape& shape) {
  return shape.channels > 0 && shape.channels % kInterleavedChannels == 0;
}

std::vector<float> packDirectConvWeightsInterleaved(const float* weight, int rows, int channels, int taps) {
  const int64_t depth = int64_t(channels) * taps;
  std::vector<float> reordered(size_t(rows) * size_t(depth));
  for (int64_t r = 0; r < rows; ++r)
    for (int c = 0; c < channels; ++c)
      for (int t = 0; t < taps; ++t) {
        const int64_t k = (int64_t(c / kInterleavedChannels) * taps + t) * kInterleavedChannels + c % kInterleavedChannels;
        reordered[size_t(r * depth + k)] = weight[r * depth + int64_t(c) * taps + t];
      }
  return packDirectConvWeights(reordered.data(), rows, int(depth));
}

std::vector<int64_t> directConvOffsets(const ConvShape& s, int interleave) {
  const int64_t plane = int64_t(s.height) * s.width;
  std::vector<int64_t> offsets(static_cast<size_t>(s.channels) * s.kernelHeight * s.kernelWidth);
  size_t k = 0;
  for (int c = 0; c < s.channels; c += interleave)
    for (int i = 0; i < s.kernelHeight; ++i)
      for (int j = 0; j < s.kernelWidth; ++j) {
        const int64_t tap = (int64_t(i) * s.dilationHeight * s.width + int64_t(j) * s.dilationWidth) * interleave;
        for (int lane = 0; lane < interleave; ++lane) offsets[k++] = c * plane + tap + lane;
      }
  return offsets;
}

namespace {

// convDirectInterleaved without AVX2: the plain loop over the depth in the interleaved order.
void convDirectInterleavedPortable(const ConvGemmProblem& p, const float* packed, int64_t col0, int64_t cols) {
  const int64_t depth = int64_t(p.shape.channels) * p.shape.kernelHeight * p.shape.kernelWidth;
  convDirectLoop(p, kInterleavedChannels, [&](int r, int k) { return packed[(r / kLanes * depth + k) * kLanes + r % kLanes]; },
                 col0, cols);
}

}  // namespace

void convDirectInterleaved(const ConvGemmProblem& problem, const float* packedWeights, int64_t col0, int64_t cols) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpuFeatures().avx2Fma) return convDirectInterleavedAvx2(problem, packedWeights, col0, cols);
#endif
  convDirectInterleavedPortable(problem, packedWeights, col0, cols);
}

void interleaveChannelRows(const float* const* rows, int width, float* out) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpuFeatures().avx2Fma) return interleaveChannelRowsAvx2(rows, width, out);
#endif
  for (int w = 0; w < width; ++w)
    for (int c = 0; c < kInterleavedChannels; ++c) out[w * kInterleavedChannels + c] = rows[c][w];
}

void convDirect(const ConvGemmProblem& problem, const float* packedWeights, int64_t col0, int64_t cols) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpuFeatures().avx2Fma) return convDirectAvx2(problem, packedWeights, col0, cols);
#endif
  // Without the AVX2 kernel: the implicit GEMM on the unpacked weights (the same values up to rounding).
  (void)packedWeights;
  ConvGemmProblem unpacked = problem;
  unpacked.packed = PackedConvWeights{};
  convGemm(unpacked, col0, cols);
}

}  // namespace lrp::kernels
