// im2col / col2im with the padding checks hoisted out of the innermost loops (the valid column range is computed).
#include "conv.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace lrp::kernels {

namespace {

// The output columns ow in [begin, end) whose tap w = ow·stride + w0 lies inside [0, width).
inline void validColumns(int w0, int stride, int width, int outWidth, int& begin, int& end) {
  begin = w0 >= 0 ? 0 : (-w0 + stride - 1) / stride;
  end = w0 >= width ? 0 : (width - 1 - w0) / stride + 1;
  if (end > outWidth) end = outWidth;
  if (begin > end) begin = end;
}

inline void copyRow(const float* __restrict src, float* __restrict dst, int n) {
  for (int k = 0; k < n; ++k) dst[k] = src[k];
}

// row[w] = f[w] · phases[w mod stride][w / stride] for w < width (f null: ones), phases `span` floats apart; strides 1
// and 2 spelled out so that the loops vectorise (a stride known only at run time leaves them scalar).
inline void interleave(const float* __restrict phases, int span, int stride, int width, const float* __restrict f,
                       float* __restrict row) {
  if (stride == 1) {
    if (f) for (int w = 0; w < width; ++w) row[w] = f[w] * phases[w];
    else copyRow(phases, row, width);
    return;
  }
  if (stride == 2) {
    const float* __restrict even = phases;
    const float* __restrict odd = phases + span;
    const int pairs = width / 2;
    if (f) {
      for (int k = 0; k < pairs; ++k) {
        row[2 * k] = f[2 * k] * even[k];
        row[2 * k + 1] = f[2 * k + 1] * odd[k];
      }
      if (width % 2) row[width - 1] = f[width - 1] * even[pairs];
    } else {
      for (int k = 0; k < pairs; ++k) {
        row[2 * k] = even[k];
        row[2 * k + 1] = odd[k];
      }
      if (width % 2) row[width - 1] = even[pairs];
    }
    return;
  }
  for (int w = 0; w < width; ++w) {
    const float v = phases[(w % stride) * span + w / stride];
    row[w] = f ? f[w] * v : v;
  }
}

}  // namespace

void im2col(const ConvShape& s, const float* x, float* col, long ld) {
  for (int c = 0; c < s.channels; ++c) {
    const float* xc = x + static_cast<long>(c) * s.height * s.width;
    for (int i = 0; i < s.kernelHeight; ++i) {
      for (int j = 0; j < s.kernelWidth; ++j) {
        float* row = col + (static_cast<long>(c) * s.kernelHeight * s.kernelWidth + i * s.kernelWidth + j) * ld;
        for (int oh = 0; oh < s.outHeight; ++oh) {
          const int h = oh * s.strideHeight - s.padTop + i * s.dilationHeight;
          float* out = row + oh * s.outWidth;
          if (h < 0 || h >= s.height) {
            for (int ow = 0; ow < s.outWidth; ++ow) out[ow] = 0.f;
            continue;
          }
          const float* xrow = xc + static_cast<long>(h) * s.width;
          const int w0 = j * s.dilationWidth - s.padLeft;
          int begin, end;
          validColumns(w0, s.strideWidth, s.width, s.outWidth, begin, end);
          // Rows are short (often 8–64 values): inline loops, which vectorise, beat memcpy/memset calls.
          for (int ow = 0; ow < begin; ++ow) out[ow] = 0.f;
          if (s.strideWidth == 1) {
            copyRow(xrow + begin + w0, out + begin, end - begin);
          } else {
            for (int ow = begin; ow < end; ++ow) out[ow] = xrow[ow * s.strideWidth + w0];
          }
          for (int ow = end; ow < s.outWidth; ++ow) out[ow] = 0.f;
        }
      }
    }
  }
}

void col2im(const ConvShape& s, const float* col, long ld, const float* factors, float* x) {
  // Per row of x, its values in stride-apart phases (x[w] = phases[w mod stride][w / stride]): each col row adds to one
  // phase as a contiguous run, a loop that vectorises; the phases then interleave into x once.
  const int stride = s.strideWidth, span = (s.width + stride - 1) / stride;
  std::vector<float> phases(size_t(stride) * size_t(span));
  const int taps = s.kernelHeight * s.kernelWidth;
  for (int c = 0; c < s.channels; ++c) {
    const float* colc = col + static_cast<long>(c) * taps * ld;
    for (int h = 0; h < s.height; ++h) {
      std::fill(phases.begin(), phases.end(), 0.f);
      for (int i = 0; i < s.kernelHeight; ++i) {
        // The output row whose tap i reads row h, if any.
        const int t = h + s.padTop - i * s.dilationHeight;
        if (t < 0 || t % s.strideHeight != 0 || t / s.strideHeight >= s.outHeight) continue;
        const int oh = t / s.strideHeight;
        for (int j = 0; j < s.kernelWidth; ++j) {
          const float* in = colc + static_cast<long>(i * s.kernelWidth + j) * ld + static_cast<long>(oh) * s.outWidth;
          const int w0 = j * s.dilationWidth - s.padLeft;
          int begin, end;
          validColumns(w0, stride, s.width, s.outWidth, begin, end);
          if (begin >= end) continue;
          // Column ow·stride + w0 is phase p, index ow + (w0 − p) / stride.
          const int p = (w0 % stride + stride) % stride;
          float* __restrict dst = phases.data() + static_cast<long>(p) * span + (w0 - p) / stride;
          for (int ow = begin; ow < end; ++ow) dst[ow] += in[ow];
        }
      }
      float* row = x + (static_cast<long>(c) * s.height + h) * s.width;
      const float* f = factors ? factors + (static_cast<long>(c) * s.height + h) * s.width : nullptr;
      interleave(phases.data(), span, stride, s.width, f, row);
    }
  }
}

}  // namespace lrp::kernels
