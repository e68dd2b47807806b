// The AVX2+FMA row convolution (conv_rows.h): tiles of up to 6 output channels × up to 4 vectors of 8 consecutive
// positions of one output row, 12 accumulators at most. Function target attributes as in gemm_avx2.cc, so the binary
// still runs where AVX2 is missing (conv_rows.cc calls this only after checking).
#include "conv_rows.h"
#include "transpose_avx.h"  // immintrin.h and LRP_TARGET_AVX2

#if defined(__x86_64__) || defined(_M_X64)

#include <algorithm>
#include <cstddef>
#include <vector>

#include "conv_direct.h"

namespace lrp::kernels {

namespace {

constexpr int kMaxChannels = 6, kMaxVectors = 4, kMaxAccumulators = 12;

// One tile: output channels [0, MO) of `w` (w[k·stride + i]) × P vectors of positions from x (the row's first position
// at x, tap k at x + offsets[k]); with Tail, the last vector holds only the lanes set in `mask`. Then convGemm's
// epilogue per value, in its order: alpha·acc (+ y), + alpha·bias, · scale, the ReLU copy; y, scale and relu point at
// channel 0's first position, channels `plane` floats apart.
struct RowTile {
  int depth;
  const int64_t* offsets;
  const float* x;
  const float* w;
  int64_t wStride;
  __m256i mask;
  float* y;
  const float* scale;
  float* relu;
  int64_t plane;
  const float* bias;  // alpha·bias of the tile's channels, or null
  float alpha;
  bool accumulate;
};

template <int P, bool Tail>
LRP_TARGET_AVX2 inline __m256 loadVector(const float* at, int p, __m256i mask) {
  if (Tail && p == P - 1) return _mm256_maskload_ps(at + 8 * p, mask);
  return _mm256_loadu_ps(at + 8 * p);
}

template <int P, bool Tail>
LRP_TARGET_AVX2 inline void storeVector(float* at, int p, __m256i mask, __m256 v) {
  if (Tail && p == P - 1) _mm256_maskstore_ps(at + 8 * p, mask, v);
  else _mm256_storeu_ps(at + 8 * p, v);
}

// Every loop over channels and vectors is unrolled, so the accumulators stay in registers (a loop left rolled in the
// epilogue keeps GCC from that: it stored all 12 to the stack on every k, at a third of the speed).
#if defined(__GNUC__)
#define LRP_UNROLL _Pragma("GCC unroll 8")
#else
#define LRP_UNROLL
#endif

template <int MO, int P, bool Tail>
LRP_TARGET_AVX2 void rowTile(const RowTile& t) {
  __m256 acc[MO][P];
  LRP_UNROLL for (int i = 0; i < MO; ++i) LRP_UNROLL for (int p = 0; p < P; ++p) acc[i][p] = _mm256_setzero_ps();
  const float* w = t.w;
  const float* const x = t.x;
  const int64_t* const offsets = t.offsets;
  const int64_t wStride = t.wStride;
  const int depth = t.depth;
  const __m256i mask = t.mask;
  // 16 registers: the accumulators, and either the MO broadcasts and one vector at a time or the P vectors and one
  // broadcast at a time, whichever is fewer (MO·P ≤ 12 and min(MO, P) ≤ 3).
  for (int k = 0; k < depth; ++k, w += wStride) {
    const float* at = x + offsets[k];
    if constexpr (MO <= P) {
      __m256 b[MO];
      LRP_UNROLL for (int i = 0; i < MO; ++i) b[i] = _mm256_broadcast_ss(w + i);
      LRP_UNROLL for (int p = 0; p < P; ++p) {
        const __m256 v = loadVector<P, Tail>(at, p, mask);
        LRP_UNROLL for (int i = 0; i < MO; ++i) acc[i][p] = _mm256_fmadd_ps(b[i], v, acc[i][p]);
      }
    } else {
      __m256 v[P];
      LRP_UNROLL for (int p = 0; p < P; ++p) v[p] = loadVector<P, Tail>(at, p, mask);
      LRP_UNROLL for (int i = 0; i < MO; ++i) {
        const __m256 b = _mm256_broadcast_ss(w + i);
        LRP_UNROLL for (int p = 0; p < P; ++p) acc[i][p] = _mm256_fmadd_ps(b, v[p], acc[i][p]);
      }
    }
  }
  const __m256 alpha = _mm256_set1_ps(t.alpha), zero = _mm256_setzero_ps();
  LRP_UNROLL for (int i = 0; i < MO; ++i) {
    float* y = t.y + i * t.plane;
    const __m256 bias = t.bias ? _mm256_set1_ps(t.bias[i]) : zero;
    LRP_UNROLL for (int p = 0; p < P; ++p) {
      __m256 r = _mm256_mul_ps(alpha, acc[i][p]);
      if (t.accumulate) r = _mm256_add_ps(r, loadVector<P, Tail>(y, p, mask));
      if (t.bias) r = _mm256_add_ps(r, bias);
      if (t.scale) r = _mm256_mul_ps(r, loadVector<P, Tail>(t.scale + i * t.plane, p, mask));
      storeVector<P, Tail>(y, p, mask, r);
      if (t.relu) storeVector<P, Tail>(t.relu + i * t.plane, p, mask, _mm256_max_ps(r, zero));
    }
  }
}

using RowTileFunction = void (*)(const RowTile&);

template <int MO, int P>
constexpr RowTileFunction tileFor(bool tail) {
  if constexpr (MO * P > kMaxAccumulators) {
    return nullptr;
  } else {
    return tail ? rowTile<MO, P, true> : rowTile<MO, P, false>;
  }
}

template <int MO>
RowTileFunction tileForVectors(int vectors, bool tail) {
  switch (vectors) {
    case 1: return tileFor<MO, 1>(tail);
    case 2: return tileFor<MO, 2>(tail);
    case 3: return tileFor<MO, 3>(tail);
    default: return tileFor<MO, 4>(tail);
  }
}

RowTileFunction tileFunction(int channels, int vectors, bool tail) {
  switch (channels) {
    case 1: return tileForVectors<1>(vectors, tail);
    case 2: return tileForVectors<2>(vectors, tail);
    case 3: return tileForVectors<3>(vectors, tail);
    case 4: return tileForVectors<4>(vectors, tail);
    case 5: return tileForVectors<5>(vectors, tail);
    default: return tileForVectors<6>(vectors, tail);
  }
}

}  // namespace

LRP_TARGET_AVX2 void convRowsAvx2(const ConvGemmProblem& p, const float* weightsByDepth, int64_t col0, int64_t cols) {
  const ConvShape& s = p.shape;
  const int depth = s.channels * s.kernelHeight * s.kernelWidth;
  const int64_t positions = int64_t(s.outHeight) * s.outWidth;
  const std::vector<int64_t> offsets = directConvOffsets(s, 1);
  // A row's vectors split into the fewest tiles of at most 4, of nearly equal size; the channels per tile then as
  // many as 12 accumulators allow (at most 6). A row of 32 positions: one tile of 4 vectors × 3 channels.
  const int rowVectors = (s.outWidth + 7) / 8;
  const int rowTiles = (rowVectors + kMaxVectors - 1) / kMaxVectors;
  const int vectorsPerTile = (rowVectors + rowTiles - 1) / rowTiles;
  const int channelsPerTile = std::min(kMaxChannels, kMaxAccumulators / vectorsPerTile);
  float biasTimesAlpha[kMaxChannels];
  for (int64_t col = col0, end = col0 + cols; col < end;) {
    const int64_t n = col / positions, q = col % positions, oh = q / s.outWidth, ow = q % s.outWidth;
    const int length = int(std::min<int64_t>(s.outWidth - ow, end - col));
    const float* x = p.x + n * p.xSampleStride + oh * s.strideHeight * s.width + ow;
    const int64_t at = n * p.ySampleStride + q;
    for (int c0 = 0; c0 < p.outChannels; c0 += channelsPerTile) {
      const int channels = std::min(channelsPerTile, p.outChannels - c0);
      if (p.bias)
        for (int i = 0; i < channels; ++i) biasTimesAlpha[i] = p.alpha * p.bias[c0 + i];
      const int64_t channelAt = at + int64_t(c0) * positions;
      for (int w0 = 0; w0 < length; w0 += vectorsPerTile * 8) {
        const int count = std::min(vectorsPerTile * 8, length - w0), vectors = (count + 7) / 8, rest = count % 8;
        const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const RowTile tile{depth,
                           offsets.data(),
                           x + w0,
                           weightsByDepth + c0,
                           p.outChannels,
                           _mm256_cmpgt_epi32(_mm256_set1_epi32(rest), lanes),
                           p.y + channelAt + w0,
                           p.scale ? p.scale + channelAt + w0 : nullptr,
                           p.relu ? p.relu + channelAt + w0 : nullptr,
                           positions,
                           p.bias ? biasTimesAlpha : nullptr,
                           p.alpha,
                           p.accumulate};
        tileFunction(channels, vectors, rest != 0)(tile);
      }
    }
    col += length;
  }
}

}  // namespace lrp::kernels

#endif
