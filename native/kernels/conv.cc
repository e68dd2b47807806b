// im2col / col2im with the padding checks hoisted out of the innermost loop.
#include "conv.h"

#include <cstring>

namespace lrp::kernels {

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
            std::memset(out, 0, sizeof(float) * s.outWidth);
            continue;
          }
          const float* xrow = xc + static_cast<long>(h) * s.width;
          const int w0 = j * s.dilationWidth - s.padLeft;
          if (s.strideWidth == 1 && w0 >= 0 && w0 + s.outWidth <= s.width) {
            std::memcpy(out, xrow + w0, sizeof(float) * s.outWidth);
            continue;
          }
          for (int ow = 0; ow < s.outWidth; ++ow) {
            const int w = ow * s.strideWidth + w0;
            out[ow] = (w >= 0 && w < s.width) ? xrow[w] : 0.f;
          }
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
          for (int ow = 0; ow < s.outWidth; ++ow) {
            const int w = ow * s.strideWidth + w0;
            if (w >= 0 && w < s.width) xrow[w] += in[ow];
          }
        }
      }
    }
  }
}

}  // namespace lrp::kernels
