// im2col / col2im with the padding checks hoisted out of the innermost loops (the valid column range is computed).
#include "conv.h"

#include <cstring>

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

void col2imAdd(const ConvShape& s, const float* col, long ld, float* x) {
  for (int c = 0; c < s.channels; ++c) {
    float* xc = x + static_cast<long>(c) * s.height * s.width;
    for (int i = 0; i < s.kernelHeight; ++i) {
      for (int j = 0; j < s.kernelWidth; ++j) {
        const float* row = col + (static_cast<long>(c) * s.kernelHeight * s.kernelWidth + i * s.kernelWidth + j) * ld;
        for (int oh = 0; oh < s.outHeight; ++oh) {
          const int h = oh * s.strideHeight - s.padTop + i * s.dilationHeight;
          if (h < 0 || h >= s.height) continue;
          float* xrow = xc + static_cast<long>(h) * s.width;
          const float* in = row + oh * s.outWidth;
          const int w0 = j * s.dilationWidth - s.padLeft;
          int begin, end;
          validColumns(w0, s.strideWidth, s.width, s.outWidth, begin, end);
          if (s.strideWidth == 1) {
            float* dst = xrow + (begin + w0);
            const float* src = in + begin;
            for (int k = 0; k < end - begin; ++k) dst[k] += src[k];
          } else {
            for (int ow = begin; ow < end; ++ow) xrow[ow * s.strideWidth + w0] += in[ow];
          }
        }
      }
    }
  }
}

}  // namespace lrp::kernels
