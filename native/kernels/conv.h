// im2col / col2im for one image of one group, the layout conversion behind GEMM convolution.
#pragma once

namespace lrp::kernels {

struct ConvShape {
  int channels, height, width;        // input channels of this group, input size
  int outHeight, outWidth;
  int kernelHeight, kernelWidth, strideHeight, strideWidth, padTop, padLeft, dilationHeight, dilationWidth;
};

// col[(c·kh + i)·kw + j, oh·outWidth + ow] = x[c, oh·sh − pt + i·dh, ow·sw − pl + j·dw] (0 outside); rows of col are
// `ld` floats apart (outHeight·outWidth for one image, more when several images sit side by side).
void im2col(const ConvShape& s, const float* x, float* col, long ld);
// The transpose of im2col, times factors: x = factors ⊙ (Σ of col[...] over every in-bounds tap onto each x[...]),
// x overwritten (factors null: ones, laid out as x). Each x value's taps are added in (kernel row, kernel column)
// order onto zero, and each value of x is written once.
void col2im(const ConvShape& s, const float* col, long ld, const float* factors, float* x);

}  // namespace lrp::kernels
