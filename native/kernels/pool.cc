// Max pooling without bounds checks (see pool.h); 2×2 windows with stride 2 (VGG, most CNNs) have their own loops, and
// 3×3 windows with stride 2 (the ResNet stem) take four windows at a time with SSE2 (x86-64's baseline: no dispatch).
#include "pool.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define LRP_POOL_SSE2 1
#endif

namespace lrp::kernels {

namespace {

bool isTwoByTwo(const PoolWindows& p) {
  return p.kernelHeight == 2 && p.kernelWidth == 2 && p.strideHeight == 2 && p.strideWidth == 2 && p.padTop == 0 &&
         p.padLeft == 0 && 2 * p.outHeight <= p.inHeight && 2 * p.outWidth <= p.inWidth;
}

// The index (into x) of window (oh, ow)'s first maximum, or −1 when the window has no element inside the input.
inline int argMax(const PoolWindows& p, const float* x, int oh, int ow) {
  const int h0 = oh * p.strideHeight - p.padTop, w0 = ow * p.strideWidth - p.padLeft;
  const int hBegin = h0 < 0 ? 0 : h0, hEnd = h0 + p.kernelHeight < p.inHeight ? h0 + p.kernelHeight : p.inHeight;
  const int wBegin = w0 < 0 ? 0 : w0, wEnd = w0 + p.kernelWidth < p.inWidth ? w0 + p.kernelWidth : p.inWidth;
  if (hBegin >= hEnd || wBegin >= wEnd) return -1;
  int arg = hBegin * p.inWidth + wBegin;
  float best = x[arg];
  for (int h = hBegin; h < hEnd; ++h)
    for (int w = wBegin; w < wEnd; ++w) {
      // Selects, not branches: which tap wins is data-dependent and mispredicts.
      const int at = h * p.inWidth + w;
      const bool greater = x[at] > best;
      best = greater ? x[at] : best;
      arg = greater ? at : arg;
    }
  return arg;
}

// The maximum of window (oh, ow), as maxPoolPlane defines it.
inline float windowMax(const PoolWindows& p, const float* x, int oh, int ow) {
  const int arg = argMax(p, x, oh, ow);
  return arg < 0 ? -INFINITY : x[arg];
}

// 3×3 windows with stride 2 (the ResNet stem's pooling): overlapping, so the 2×2 shortcut does not apply, but every
// window that lies inside the input has the same nine taps at fixed offsets. [first, last) are those windows along
// one axis; the others (at most one or two per side) take the clipped path.
bool isThreeByThreeStrideTwo(const PoolWindows& p) {
  return p.kernelHeight == 3 && p.kernelWidth == 3 && p.strideHeight == 2 && p.strideWidth == 2;
}

struct InsideRange {
  int first, last;
};

// Windows o with [2o − pad, 2o − pad + 3) inside [0, in).
inline InsideRange insideWindows(int pad, int in, int out) {
  const int first = std::min(out, (pad + 1) / 2);
  const int last = in + pad >= 3 ? std::min(out, (in + pad - 3) / 2 + 1) : first;
  return {first, std::max(first, last)};
}

// The maximum of the 3×3 window whose top-left tap is column c of row r0 (r1, r2 the rows below): taps in row-major
// order, each taken only when strictly greater (as argMax), as selects the compiler vectorises across windows.
inline float max3x3(const float* r0, const float* r1, const float* r2, int c) {
  float best = r0[c];
  best = r0[c + 1] > best ? r0[c + 1] : best;
  best = r0[c + 2] > best ? r0[c + 2] : best;
  best = r1[c] > best ? r1[c] : best;
  best = r1[c + 1] > best ? r1[c + 1] : best;
  best = r1[c + 2] > best ? r1[c + 2] : best;
  best = r2[c] > best ? r2[c] : best;
  best = r2[c + 1] > best ? r2[c + 1] : best;
  best = r2[c + 2] > best ? r2[c + 2] : best;
  return best;
}

#if defined(LRP_POOL_SSE2)
// Four windows side by side, from their three rows (r0, r1, r2 at the top-left tap of the first window): taps[3·i + j]
// = tap (i, j) of the four windows, one per lane. Loads reach column 2·3 + 2 of the first window's row, the last
// window's last tap, and no further.
struct FourWindows {
  __m128 taps[9];
  FourWindows(const float* r0, const float* r1, const float* r2) {
    const float* rows[3] = {r0, r1, r2};
    for (int i = 0; i < 3; ++i) {
      const float* r = rows[i];
      const __m128 a = _mm_loadu_ps(r), b = _mm_loadu_ps(r + 4);           // columns 0–3, 4–7
      const __m128 c = _mm_loadu_ps(r + 2), d = _mm_loadu_ps(r + 5);       // columns 2–5, 5–8
      taps[3 * i] = _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));        // 0 2 4 6
      taps[3 * i + 1] = _mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));    // 1 3 5 7
      taps[3 * i + 2] = _mm_shuffle_ps(c, d, _MM_SHUFFLE(3, 1, 2, 0));    // 2 4 6 8
    }
  }
  // max3x3's chain: each tap taken where it is strictly greater (max_ps(v, best) is v > best ? v : best, NaN included).
  __m128 max() const {
    __m128 best = taps[0];
    for (int t = 1; t < 9; ++t) best = _mm_max_ps(taps[t], best);
    return best;
  }
};
#endif

void maxPool3x3Stride2(const PoolWindows& p, const float* x, float* y) {
  const InsideRange rows = insideWindows(p.padTop, p.inHeight, p.outHeight);
  const InsideRange columns = insideWindows(p.padLeft, p.inWidth, p.outWidth);
  for (int oh = 0; oh < p.outHeight; ++oh) {
    float* out = y + oh * p.outWidth;
    if (oh < rows.first || oh >= rows.last) {
      for (int ow = 0; ow < p.outWidth; ++ow) out[ow] = windowMax(p, x, oh, ow);
      continue;
    }
    for (int ow = 0; ow < columns.first; ++ow) out[ow] = windowMax(p, x, oh, ow);
    const float* r0 = x + (2 * oh - p.padTop) * p.inWidth - p.padLeft;
    const float* r1 = r0 + p.inWidth;
    const float* r2 = r1 + p.inWidth;
    int ow = columns.first;
#if defined(LRP_POOL_SSE2)
    // Four windows at a time: the same selects in the same order, so the same values (one thread, 64×64 planes in
    // cache: 2.9 → 1.6 µs a plane; the gradient below 7.1 → 3.4–4.6 µs).
    for (; ow + 4 <= columns.last; ow += 4) _mm_storeu_ps(out + ow, FourWindows(r0 + 2 * ow, r1 + 2 * ow, r2 + 2 * ow).max());
#endif
    for (; ow < columns.last; ++ow) out[ow] = max3x3(r0, r1, r2, 2 * ow);
    for (int ow = columns.last; ow < p.outWidth; ++ow) out[ow] = windowMax(p, x, oh, ow);
  }
}

constexpr int kOffsetBlock = 64;

void maxPoolGradient3x3Stride2(const PoolWindows& p, const float* x, const float* r, float* dx) {
  std::memset(dx, 0, sizeof(float) * size_t(p.inHeight) * size_t(p.inWidth));
  const InsideRange rows = insideWindows(p.padTop, p.inHeight, p.outHeight);
  const InsideRange columns = insideWindows(p.padLeft, p.inWidth, p.outWidth);
  auto clipped = [&](int oh, int ow) {
    const int arg = argMax(p, x, oh, ow);
    if (arg >= 0) dx[arg] += r[oh * p.outWidth + ow];
  };
  for (int oh = 0; oh < p.outHeight; ++oh) {
    if (oh < rows.first || oh >= rows.last) {
      for (int ow = 0; ow < p.outWidth; ++ow) clipped(oh, ow);
      continue;
    }
    const int64_t corner = int64_t(2 * oh - p.padTop) * p.inWidth - p.padLeft;
    const float* rr = r + oh * p.outWidth;
    for (int ow = 0; ow < columns.first; ++ow) clipped(oh, ow);
    // The winners' offsets first, for a block of windows at a time (vectorised selects), then the scatter: windows
    // overlap, so the additions stay serial.
    const float* r0 = x + corner;
    const float* r1 = r0 + p.inWidth;
    const float* r2 = r1 + p.inWidth;
    const int w = p.inWidth;
#if defined(LRP_POOL_SSE2)
    const int tapOffset[9] = {0, 1, 2, w, w + 1, w + 2, 2 * w, 2 * w + 1, 2 * w + 2};
    __m128i tapOffsets[9];
    for (int t = 0; t < 9; ++t) tapOffsets[t] = _mm_set1_epi32(tapOffset[t]);
#endif
    for (int block = columns.first; block < columns.last; block += kOffsetBlock) {
      const int end = std::min(columns.last, block + kOffsetBlock);
      alignas(16) int offsets[kOffsetBlock];
      int ow = block;
#if defined(LRP_POOL_SSE2)
      // Four windows at a time, the same comparisons as below, as lane masks.
      for (; ow + 4 <= end; ow += 4) {
        const FourWindows f(r0 + 2 * ow, r1 + 2 * ow, r2 + 2 * ow);
        const __m128 best = f.max();
        __m128i arg = _mm_and_si128(_mm_castps_si128(_mm_cmpeq_ps(f.taps[8], best)), tapOffsets[8]);
        for (int t = 7; t >= 1; --t) {
          const __m128i equal = _mm_castps_si128(_mm_cmpeq_ps(f.taps[t], best));
          arg = _mm_or_si128(_mm_and_si128(equal, tapOffsets[t]), _mm_andnot_si128(equal, arg));
        }
        arg = _mm_andnot_si128(_mm_castps_si128(_mm_cmpeq_ps(f.taps[0], best)), arg);
        _mm_store_si128(reinterpret_cast<__m128i*>(offsets + (ow - block)), arg);
      }
#endif
      for (; ow < end; ++ow) {
        // The maximum as the forward pass takes it, then the first tap equal to it: the tap the strictly-greater chain
        // keeps (a NaN first tap matches nothing and keeps offset 0, as in that chain).
        const int c = 2 * ow;
        const float best = max3x3(r0, r1, r2, c);
        int arg = r2[c + 2] == best ? 2 * w + 2 : 0;
        arg = r2[c + 1] == best ? 2 * w + 1 : arg;
        arg = r2[c] == best ? 2 * w : arg;
        arg = r1[c + 2] == best ? w + 2 : arg;
        arg = r1[c + 1] == best ? w + 1 : arg;
        arg = r1[c] == best ? w : arg;
        arg = r0[c + 2] == best ? 2 : arg;
        arg = r0[c + 1] == best ? 1 : arg;
        offsets[ow - block] = r0[c] == best ? 0 : arg;
      }
      for (int ow = block; ow < end; ++ow) dx[corner + 2 * ow + offsets[ow - block]] += rr[ow];
    }
    for (int ow = columns.last; ow < p.outWidth; ++ow) clipped(oh, ow);
  }
}

}  // namespace

void maxPoolPlane(const PoolWindows& p, const float* x, float* y) {
  if (isThreeByThreeStrideTwo(p)) return maxPool3x3Stride2(p, x, y);
  if (isTwoByTwo(p)) {
    for (int oh = 0; oh < p.outHeight; ++oh) {
      const float* top = x + 2 * oh * p.inWidth;
      const float* bottom = top + p.inWidth;
      float* out = y + oh * p.outWidth;
      for (int ow = 0; ow < p.outWidth; ++ow) {
        float best = top[2 * ow];
        best = top[2 * ow + 1] > best ? top[2 * ow + 1] : best;
        best = bottom[2 * ow] > best ? bottom[2 * ow] : best;
        best = bottom[2 * ow + 1] > best ? bottom[2 * ow + 1] : best;
        out[ow] = best;
      }
    }
    return;
  }
  for (int oh = 0; oh < p.outHeight; ++oh) {
    const int h0 = oh * p.strideHeight - p.padTop;
    const int hBegin = h0 < 0 ? 0 : h0, hEnd = h0 + p.kernelHeight < p.inHeight ? h0 + p.kernelHeight : p.inHeight;
    for (int ow = 0; ow < p.outWidth; ++ow) {
      const int w0 = ow * p.strideWidth - p.padLeft;
      const int wBegin = w0 < 0 ? 0 : w0, wEnd = w0 + p.kernelWidth < p.inWidth ? w0 + p.kernelWidth : p.inWidth;
      float best = -INFINITY;
      if (hBegin < hEnd && wBegin < wEnd) {
        best = x[hBegin * p.inWidth + wBegin];
        for (int h = hBegin; h < hEnd; ++h)
          for (int w = wBegin; w < wEnd; ++w) best = x[h * p.inWidth + w] > best ? x[h * p.inWidth + w] : best;
      }
      y[oh * p.outWidth + ow] = best;
    }
  }
}

void maxPoolGradientPlane(const PoolWindows& p, const float* x, const float* r, float* dx) {
  if (isThreeByThreeStrideTwo(p)) return maxPoolGradient3x3Stride2(p, x, r, dx);
  if (isTwoByTwo(p)) {
    // Windows do not overlap: each covered input position gets its window's relevance or 0; zero first only when an
    // odd last row or column is left uncovered.
    if (2 * p.outHeight != p.inHeight || 2 * p.outWidth != p.inWidth)
      std::memset(dx, 0, sizeof(float) * size_t(p.inHeight) * size_t(p.inWidth));
    for (int oh = 0; oh < p.outHeight; ++oh) {
      const float* top = x + 2 * oh * p.inWidth;
      const float* bottom = top + p.inWidth;
      float* dtop = dx + 2 * oh * p.inWidth;
      float* dbottom = dtop + p.inWidth;
      const float* rr = r + oh * p.outWidth;
      // Selects, not branches: which tap wins is data-dependent and mispredicts about once per window; the strict
      // comparisons keep the first maximum (and a NaN never wins), as the forward pass.
      for (int ow = 0; ow < p.outWidth; ++ow) {
        const float a = top[2 * ow], b = top[2 * ow + 1], c = bottom[2 * ow], d = bottom[2 * ow + 1];
        const bool bWins = b > a;
        const float ab = bWins ? b : a;
        const bool cWins = c > ab;
        const float abc = cWins ? c : ab;
        const bool dWins = d > abc;
        const float v = rr[ow];
        const float vc = dWins ? 0.f : v, vb = cWins ? 0.f : vc;
        dtop[2 * ow] = bWins ? 0.f : vb;
        dtop[2 * ow + 1] = bWins ? vb : 0.f;
        dbottom[2 * ow] = cWins ? vc : 0.f;
        dbottom[2 * ow + 1] = dWins ? v : 0.f;
      }
    }
    return;
  }
  std::memset(dx, 0, sizeof(float) * size_t(p.inHeight) * size_t(p.inWidth));
  for (int oh = 0; oh < p.outHeight; ++oh)
    for (int ow = 0; ow < p.outWidth; ++ow) {
      const int arg = argMax(p, x, oh, ow);
      if (arg >= 0) dx[arg] += r[oh * p.outWidth + ow];
    }
}

}  // namespace lrp::kernels
