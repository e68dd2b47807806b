// Max pooling of one plane with dilation 1: each window clipped to the input once, instead of a bounds check per tap.
#pragma once

namespace lrp::kernels {

struct PoolWindows {
  int inHeight, inWidth, outHeight, outWidth;
  int kernelHeight, kernelWidth, strideHeight, strideWidth;
  int padTop, padLeft;  // taps outside the input are skipped (not treated as −∞ or 0)
};

// y[oh, ow] = the maximum of window (oh, ow): its first element inside the input, replaced by each later one that is
// strictly greater (−∞ for a window with no element inside).
void maxPoolPlane(const PoolWindows& p, const float* x, float* y);
// dx (overwritten) = each window's r sent to its first maximum (as chosen by maxPoolPlane), summed where windows overlap.
void maxPoolGradientPlane(const PoolWindows& p, const float* x, const float* r, float* dx);

}  // namespace lrp::kernels
