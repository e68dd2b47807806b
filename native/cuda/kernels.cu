// The CUDA backend's non-GEMM kernels: im2col / col2im, layout changes, pooling, and the rule arithmetic, each the
// element-wise twin of the CPU backend's loop (same formulas and conventions; gradients gather instead of scatter so
// that results are deterministic without atomics).
#include <cmath>

#include "../engine/error.h"
#include "cuda_kernels.h"

namespace lrp::cuda {

void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so that later calls are not blamed for it
  const std::string message = std::string("CUDA ") + what + ": " + cudaGetErrorString(status);
  if (status == cudaErrorMemoryAllocation) throw Error("E_MEMORY_BUDGET", "out of GPU memory (" + message + ")");
  if (status == cudaErrorNoKernelImageForDevice || status == cudaErrorUnsupportedPtxVersion ||
      status == cudaErrorInsufficientDriver || status == cudaErrorNoDevice || status == cudaErrorDevicesUnavailable) {
    throw Error("E_DEVICE", message);
  }
  throw Error("E_NATIVE", message);
}

void checkLaunch(const char* what) { check(cudaGetLastError(), what); }

namespace {

constexpr int kBlock = 256;

// Blocks for a grid-stride loop over `count` items.
unsigned blocksFor(int64_t count) {
  const int64_t blocks = (count + kBlock - 1) / kBlock;
  return unsigned(blocks < 1 ? 1 : blocks > 65536 ? 65536 : blocks);
}

#define LRP_FOR_EACH(index, count) \
  for (int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; index < (count); index += int64_t(blockDim.x) * gridDim.x)

__global__ void im2colKernel(ConvGeometry g, int group, int samples, const float* __restrict__ x, float* __restrict__ col) {
  const int inG = g.inChannels / g.groups;
  const int64_t outSize = int64_t(g.outHeight) * g.outWidth, wide = outSize * samples;
  const int64_t count = int64_t(inG) * g.kernelHeight * g.kernelWidth * wide;
  LRP_FOR_EACH(index, count) {
    const int64_t row = index / wide, column = index % wide;
    const int n = int(column / outSize), p = int(column % outSize);
    const int oh = p / g.outWidth, ow = p % g.outWidth;
    const int j = int(row % g.kernelWidth), i = int(row / g.kernelWidth % g.kernelHeight), c = int(row / (g.kernelWidth * g.kernelHeight));
    const int h = oh * g.strideHeight - g.padTop + i * g.dilationHeight;
    const int w = ow * g.strideWidth - g.padLeft + j * g.dilationWidth;
    float v = 0.f;
    if (h >= 0 && h < g.inHeight && w >= 0 && w < g.inWidth) {
      v = x[((int64_t(n) * g.inChannels + group * inG + c) * g.inHeight + h) * g.inWidth + w];
    }
    col[index] = v;
  }
}

__device__ inline int floorDiv(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

__global__ void col2imKernel(ConvGeometry g, int group, int samples, const float* __restrict__ col, float* __restrict__ dx) {
  const int inG = g.inChannels / g.groups;
  const int64_t outSize = int64_t(g.outHeight) * g.outWidth, wide = outSize * samples;
  const int64_t count = int64_t(samples) * inG * g.inHeight * g.inWidth;
  LRP_FOR_EACH(index, count) {
    const int w = int(index % g.inWidth), h = int(index / g.inWidth % g.inHeight);
    const int c = int(index / (int64_t(g.inWidth) * g.inHeight) % inG);
    const int n = int(index / (int64_t(g.inWidth) * g.inHeight * inG));
    float sum = 0.f;
    for (int i = 0; i < g.kernelHeight; ++i) {
      const int th = h + g.padTop - i * g.dilationHeight;
      if (th < 0 || th % g.strideHeight != 0) continue;
      const int oh = th / g.strideHeight;
      if (oh >= g.outHeight) continue;
      for (int j = 0; j < g.kernelWidth; ++j) {
        const int tw = w + g.padLeft - j * g.dilationWidth;
        if (tw < 0 || tw % g.strideWidth != 0) continue;
        const int ow = tw / g.strideWidth;
        if (ow >= g.outWidth) continue;
        const int64_t row = (int64_t(c) * g.kernelHeight + i) * g.kernelWidth + j;
        sum += col[row * wide + int64_t(n) * outSize + int64_t(oh) * g.outWidth + ow];
      }
    }
    dx[((int64_t(n) * g.inChannels + group * inG + c) * g.inHeight + h) * g.inWidth + w] = sum;
  }
}

__global__ void scatterChannelsKernel(int samples, int channels, int totalChannels, int offset, int64_t inner,
                                      const float* __restrict__ wide, const float* __restrict__ bias, float sign, bool accumulate,
                                      float* __restrict__ y) {
  const int64_t count = int64_t(samples) * channels * inner;
  LRP_FOR_EACH(index, count) {
    const int64_t p = index % inner;
    const int c = int(index / inner % channels), n = int(index / (inner * channels));
    float v = wide[(int64_t(c) * samples + n) * inner + p];
    float* out = y + (int64_t(n) * totalChannels + offset + c) * inner + p;
    if (accumulate) v = *out + v;
    if (bias) v += sign * bias[c];
    *out = v;
  }
}

__global__ void gatherChannelsKernel(int samples, int channels, int totalChannels, int offset, int64_t inner,
                                     const float* __restrict__ x, float* __restrict__ wide) {
  const int64_t count = int64_t(samples) * channels * inner;
  LRP_FOR_EACH(index, count) {
    // index runs over the wide layout [c, n, p] so that the writes are contiguous.
    const int64_t p = index % inner;
    const int n = int(index / inner % samples), c = int(index / (inner * samples));
    wide[index] = x[(int64_t(n) * totalChannels + offset + c) * inner + p];
  }
}

__global__ void addChannelBiasKernel(int batch, int channels, int64_t inner, const float* __restrict__ bias, float sign,
                                     float* __restrict__ y) {
  const int64_t count = int64_t(batch) * channels * inner;
  LRP_FOR_EACH(index, count) y[index] += sign * bias[index / inner % channels];
}

// torch's average-pool divisor, as the CPU backend computes it.
__device__ double poolDivisor(const PoolGeometry& g, int oh, int ow) {
  int hs = oh * g.strideHeight - g.padTop, ws = ow * g.strideWidth - g.padLeft;
  int he = min(hs + g.kernelHeight, g.inHeight + g.padBottom);
  int we = min(ws + g.kernelWidth, g.inWidth + g.padRight);
  double size = double(he - hs) * (we - ws);
  if (!g.countIncludePad) {
    hs = max(hs, 0);
    ws = max(ws, 0);
    he = min(he, g.inHeight);
    we = min(we, g.inWidth);
    size = double(he - hs) * (we - ws);
  }
  return size > 0 ? size : 1.0;
}

// Index (h·inWidth + w) of the first maximum of window (oh, ow) in the CPU's visiting order, −1 for an empty window.
__device__ int windowArgmax(const PoolGeometry& g, const float* __restrict__ plane, int oh, int ow) {
  float best = -INFINITY;
  int arg = -1;
  for (int i = 0; i < g.kernelHeight; ++i) {
    const int h = oh * g.strideHeight - g.padTop + i * g.dilationHeight;
    if (h < 0 || h >= g.inHeight) continue;
    for (int j = 0; j < g.kernelWidth; ++j) {
      const int w = ow * g.strideWidth - g.padLeft + j * g.dilationWidth;
      if (w < 0 || w >= g.inWidth) continue;
      const float v = plane[h * g.inWidth + w];
      if (arg < 0 || v > best) {
        best = v;
        arg = h * g.inWidth + w;
      }
    }
  }
  return arg;
}

__global__ void maxPoolForwardKernel(PoolGeometry g, int batch, const float* __restrict__ x, float* __restrict__ y) {
  const int64_t outSize = int64_t(g.outHeight) * g.outWidth, inSize = int64_t(g.inHeight) * g.inWidth;
  const int64_t count = int64_t(batch) * g.channels * outSize;
  LRP_FOR_EACH(index, count) {
    const int64_t plane = index / outSize;
    const int p = int(index % outSize);
    const int arg = windowArgmax(g, x + plane * inSize, p / g.outWidth, p % g.outWidth);
    y[index] = arg < 0 ? -INFINITY : x[plane * inSize + arg];
  }
}

__global__ void maxPoolArgmaxKernel(PoolGeometry g, int batch, const float* __restrict__ x, int* __restrict__ argmax) {
  const int64_t outSize = int64_t(g.outHeight) * g.outWidth, inSize = int64_t(g.inHeight) * g.inWidth;
  const int64_t count = int64_t(batch) * g.channels * outSize;
  LRP_FOR_EACH(index, count) {
    const int p = int(index % outSize);
    argmax[index] = windowArgmax(g, x + index / outSize * inSize, p / g.outWidth, p % g.outWidth);
  }
}

// The output rows oh whose window holds input row h: oh·stride − pad + t·dilation = h for a tap t < kernel.
// For dilation 1 that is a contiguous range, computed directly; otherwise the taps are walked.
__device__ inline void windowRange(int position, int kernel, int stride, int pad, int outSize, int* first, int* last) {
  // oh·stride ∈ [position + pad − (kernel − 1), position + pad]
  *first = max(0, floorDiv(position + pad - (kernel - 1) + stride - 1, stride));
  *last = min(outSize - 1, floorDiv(position + pad, stride));
}

__global__ void maxPoolGradientKernel(PoolGeometry g, int batch, const float* __restrict__ r, const int* __restrict__ argmax,
                                      float* __restrict__ dx) {
  const int64_t outSize = int64_t(g.outHeight) * g.outWidth, inSize = int64_t(g.inHeight) * g.inWidth;
  const int64_t count = int64_t(batch) * g.channels * inSize;
  LRP_FOR_EACH(index, count) {
    const int64_t plane = index / inSize;
    const int self = int(index % inSize);
    const int h = self / g.inWidth, w = self % g.inWidth;
    const int* arg = argmax + plane * outSize;
    const float* rp = r + plane * outSize;
    float sum = 0.f;
    if (g.dilationHeight == 1 && g.dilationWidth == 1) {
      int oh0, oh1, ow0, ow1;
      windowRange(h, g.kernelHeight, g.strideHeight, g.padTop, g.outHeight, &oh0, &oh1);
      windowRange(w, g.kernelWidth, g.strideWidth, g.padLeft, g.outWidth, &ow0, &ow1);
      for (int oh = oh0; oh <= oh1; ++oh)
        for (int ow = ow0; ow <= ow1; ++ow)
          if (arg[oh * g.outWidth + ow] == self) sum += rp[oh * g.outWidth + ow];
    } else {
      for (int i = g.kernelHeight - 1; i >= 0; --i) {
        const int th = h + g.padTop - i * g.dilationHeight;
        if (th < 0 || th % g.strideHeight != 0 || th / g.strideHeight >= g.outHeight) continue;
        const int oh = th / g.strideHeight;
        for (int j = g.kernelWidth - 1; j >= 0; --j) {
          const int tw = w + g.padLeft - j * g.dilationWidth;
          if (tw < 0 || tw % g.strideWidth != 0 || tw / g.strideWidth >= g.outWidth) continue;
          const int ow = tw / g.strideWidth;
          if (arg[oh * g.outWidth + ow] == self) sum += rp[oh * g.outWidth + ow];
        }
      }
    }
    dx[index] = sum;
  }
}

__global__ void avgPoolForwardKernel(PoolGeometry g, int batch, const float* __restrict__ x, float* __restrict__ y) {
  const int64_t outSize = int64_t(g.outHeight) * g.outWidth, inSize = int64_t(g.inHeight) * g.inWidth;
  const int64_t count = int64_t(batch) * g.channels * outSize;
  LRP_FOR_EACH(index, count) {
    const float* plane = x + index / outSize * inSize;
    const int p = int(index % outSize);
    const int oh = p / g.outWidth, ow = p % g.outWidth;
    double sum = 0;
    for (int i = 0; i < g.kernelHeight; ++i) {
      const int h = oh * g.strideHeight - g.padTop + i;
      if (h < 0 || h >= g.inHeight) continue;
      for (int j = 0; j < g.kernelWidth; ++j) {
        const int w = ow * g.strideWidth - g.padLeft + j;
        if (w >= 0 && w < g.inWidth) sum += plane[h * g.inWidth + w];
      }
    }
    y[index] = float(sum / poolDivisor(g, oh, ow));
  }
}

// Average pooling has dilation 1 (poolGeometry), so the windows holding an input form a rectangle of outputs.
__global__ void avgPoolGradientKernel(PoolGeometry g, int batch, const float* __restrict__ s, float* __restrict__ dx) {
  const int64_t outSize = int64_t(g.outHeight) * g.outWidth, inSize = int64_t(g.inHeight) * g.inWidth;
  const int64_t count = int64_t(batch) * g.channels * inSize;
  LRP_FOR_EACH(index, count) {
    const float* sp = s + index / inSize * outSize;
    const int self = int(index % inSize);
    int oh0, oh1, ow0, ow1;
    windowRange(self / g.inWidth, g.kernelHeight, g.strideHeight, g.padTop, g.outHeight, &oh0, &oh1);
    windowRange(self % g.inWidth, g.kernelWidth, g.strideWidth, g.padLeft, g.outWidth, &ow0, &ow1);
    float sum = 0.f;
    for (int oh = oh0; oh <= oh1; ++oh)
      for (int ow = ow0; ow <= ow1; ++ow) sum += float(sp[oh * g.outWidth + ow] / poolDivisor(g, oh, ow));
    dx[index] = sum;
  }
}

__global__ void activationKernel(LayerKind kind, float alpha, int approximate, const float* __restrict__ x,
                                 float* __restrict__ y, int64_t count) {
  LRP_FOR_EACH(index, count) {
    const float v = x[index];
    float out;
    switch (kind) {
      case LayerKind::Relu: out = v > 0.f ? v : 0.f; break;
      case LayerKind::LeakyRelu: out = v >= 0.f ? v : alpha * v; break;
      case LayerKind::Tanh: out = tanhf(v); break;
      case LayerKind::Sigmoid: out = 1.f / (1.f + expf(-v)); break;
      case LayerKind::Elu: out = v > 0.f ? v : alpha * expm1f(v); break;
      case LayerKind::Gelu:
        out = approximate ? 0.5f * v * (1.f + tanhf(0.7978845608f * (v + 0.044715f * v * v * v)))
                          : float(0.5 * v * (1.0 + erf(v / sqrt(2.0))));
        break;
      default: out = v;
    }
    y[index] = out;
  }
}

__global__ void affineKernel(int batch, int channels, int64_t inner, const float* __restrict__ scale,
                             const float* __restrict__ shift, const float* __restrict__ x, float* __restrict__ y) {
  const int64_t count = int64_t(batch) * channels * inner;
  LRP_FOR_EACH(index, count) {
    const int64_t c = index / inner % channels;
    y[index] = x[index] * scale[c] + shift[c];
  }
}

__global__ void inputVariantKernel(InputVariant variant, int64_t size, int64_t count, const float* __restrict__ x,
                                   const float* __restrict__ bound, float scalar, float* __restrict__ out) {
  LRP_FOR_EACH(index, count) {
    float v;
    switch (variant) {
      case InputVariant::Activation: v = x[index]; break;
      case InputVariant::Positive: v = x[index] > 0.f ? x[index] : 0.f; break;
      case InputVariant::Negative: v = x[index] < 0.f ? x[index] : 0.f; break;
      case InputVariant::Ones: v = 1.f; break;
      default: v = bound ? bound[index % size] : scalar;
    }
    out[index] = v;
  }
}

__global__ void stabilizedDivideKernel(const float* __restrict__ r, const float* __restrict__ z, const float* __restrict__ mask,
                                       int maskSign, float epsilon, float* __restrict__ s, int64_t count) {
  LRP_FOR_EACH(index, count) {
    float m = 1.f;
    if (maskSign > 0) m = mask[index] > 0.f ? 1.f : 0.f;
    else if (maskSign < 0) m = mask[index] < 0.f ? 1.f : 0.f;
    const float zi = z[index];
    // As the CPU backend: no relevance to distribute gives no relevance, also where the denominator is 0 (ε = 0).
    s[index] = (m == 0.f || r[index] == 0.f) ? 0.f
                                              : __fdiv_rn(r[index], __fadd_rn(zi, __fmul_rn(epsilon, zi >= 0.f ? 1.f : -1.f)));
  }
}

__global__ void multiplyAccumulateKernel(float* __restrict__ dst, const float* __restrict__ a, const float* __restrict__ c,
                                         float coefficient, int64_t count) {
  LRP_FOR_EACH(index, count) {
    const float product = a ? __fmul_rn(a[index], c[index]) : c[index];
    dst[index] = __fadd_rn(dst[index], __fmul_rn(coefficient, product));
  }
}

__global__ void addKernel(float* __restrict__ dst, const float* __restrict__ src, int64_t count) {
  LRP_FOR_EACH(index, count) dst[index] += src[index];
}

__global__ void fillKernel(float* __restrict__ buffer, float value, int64_t count) {
  LRP_FOR_EACH(index, count) buffer[index] = value;
}

__global__ void copyBlocksKernel(int64_t rows, int64_t block, const float* __restrict__ src, int64_t srcStride,
                                 float* __restrict__ dst, int64_t dstStride, bool accumulate, float alpha) {
  const int64_t count = rows * block;
  LRP_FOR_EACH(index, count) {
    const int64_t row = index / block, i = index % block;
    const float v = src[row * srcStride + i];
    float* d = dst + row * dstStride + i;
    if (accumulate) *d = __fadd_rn(*d, __fmul_rn(alpha, v));
    else *d = alpha == 1.f ? v : alpha * v;
  }
}

__global__ void signSummaryKernel(const float* __restrict__ x, int64_t count, int* flags) {
  bool positive = false, negative = false;
  LRP_FOR_EACH(index, count) {
    const float v = x[index];
    positive |= v > 0.f;
    negative |= v < 0.f;
  }
  positive = __syncthreads_or(positive);
  negative = __syncthreads_or(negative);
  if (threadIdx.x == 0) {
    if (positive) atomicOr(flags, 1);
    if (negative) atomicOr(flags + 1, 1);
  }
}

__global__ void padForwardKernel(int planes, int height, int width, int top, int left, int bottom, int right,
                                 const float* __restrict__ x, float* __restrict__ y) {
  const int oh = height + top + bottom, ow = width + left + right;
  const int64_t count = int64_t(planes) * oh * ow;
  LRP_FOR_EACH(index, count) {
    const int w = int(index % ow) - left, h = int(index / ow % oh) - top;
    const int64_t plane = index / (int64_t(oh) * ow);
    y[index] = h >= 0 && h < height && w >= 0 && w < width ? x[(plane * height + h) * width + w] : 0.f;
  }
}

__global__ void padCropKernel(int planes, int height, int width, int top, int left, int bottom, int right,
                              const float* __restrict__ r, float* __restrict__ dx) {
  const int oh = height + top + bottom, ow = width + left + right;
  const int64_t count = int64_t(planes) * height * width;
  LRP_FOR_EACH(index, count) {
    const int w = int(index % width), h = int(index / width % height);
    const int64_t plane = index / (int64_t(height) * width);
    dx[index] = r[(plane * oh + h + top) * ow + w + left];
  }
}

// One block per sample; a fixed reduction tree, so the sums are the same from call to call.
__global__ void sumPerSampleKernel(const float* __restrict__ x, int64_t size, double* __restrict__ out) {
  __shared__ double partial[kBlock];
  const float* xs = x + int64_t(blockIdx.x) * size;
  double sum = 0;
  for (int64_t i = threadIdx.x; i < size; i += blockDim.x) sum += xs[i];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = kBlock / 2; stride > 0; stride /= 2) {
    if (int(threadIdx.x) < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = partial[0];
}

__global__ void probeKernel(int* flag) { *flag = 1; }

}  // namespace

void im2colWide(cudaStream_t stream, const ConvGeometry& g, int group, int samples, const float* x, float* col) {
  const int64_t count = int64_t(g.inChannels / g.groups) * g.kernelHeight * g.kernelWidth * g.outHeight * g.outWidth * samples;
  im2colKernel<<<blocksFor(count), kBlock, 0, stream>>>(g, group, samples, x, col);
  checkLaunch("im2col");
}

void col2imWide(cudaStream_t stream, const ConvGeometry& g, int group, int samples, const float* col, float* dx) {
  const int64_t count = int64_t(samples) * (g.inChannels / g.groups) * g.inHeight * g.inWidth;
  col2imKernel<<<blocksFor(count), kBlock, 0, stream>>>(g, group, samples, col, dx);
  checkLaunch("col2im");
}

void scatterChannels(cudaStream_t stream, int samples, int channels, int totalChannels, int offset, int64_t inner,
                     const float* wide, const float* bias, float sign, bool accumulate, float* y) {
  scatterChannelsKernel<<<blocksFor(int64_t(samples) * channels * inner), kBlock, 0, stream>>>(
      samples, channels, totalChannels, offset, inner, wide, bias, sign, accumulate, y);
  checkLaunch("scatterChannels");
}

void gatherChannels(cudaStream_t stream, int samples, int channels, int totalChannels, int offset, int64_t inner,
                    const float* x, float* wide) {
  gatherChannelsKernel<<<blocksFor(int64_t(samples) * channels * inner), kBlock, 0, stream>>>(samples, channels, totalChannels,
                                                                                             offset, inner, x, wide);
  checkLaunch("gatherChannels");
}

void addChannelBias(cudaStream_t stream, int batch, int channels, int64_t inner, const float* bias, float sign, float* y) {
  addChannelBiasKernel<<<blocksFor(int64_t(batch) * channels * inner), kBlock, 0, stream>>>(batch, channels, inner, bias, sign, y);
  checkLaunch("addChannelBias");
}

void maxPoolForward(cudaStream_t stream, const PoolGeometry& g, int batch, const float* x, float* y) {
  maxPoolForwardKernel<<<blocksFor(int64_t(batch) * g.channels * g.outHeight * g.outWidth), kBlock, 0, stream>>>(g, batch, x, y);
  checkLaunch("maxPoolForward");
}

void maxPoolGradient(cudaStream_t stream, const PoolGeometry& g, int batch, const float* x, const float* r, int* argmax,
                     float* dx) {
  maxPoolArgmaxKernel<<<blocksFor(int64_t(batch) * g.channels * g.outHeight * g.outWidth), kBlock, 0, stream>>>(g, batch, x, argmax);
  checkLaunch("maxPoolArgmax");
  maxPoolGradientKernel<<<blocksFor(int64_t(batch) * g.channels * g.inHeight * g.inWidth), kBlock, 0, stream>>>(g, batch, r, argmax, dx);
  checkLaunch("maxPoolGradient");
}

void avgPoolForward(cudaStream_t stream, const PoolGeometry& g, int batch, const float* x, float* y) {
  avgPoolForwardKernel<<<blocksFor(int64_t(batch) * g.channels * g.outHeight * g.outWidth), kBlock, 0, stream>>>(g, batch, x, y);
  checkLaunch("avgPoolForward");
}

void avgPoolGradient(cudaStream_t stream, const PoolGeometry& g, int batch, const float* s, float* dx) {
  avgPoolGradientKernel<<<blocksFor(int64_t(batch) * g.channels * g.inHeight * g.inWidth), kBlock, 0, stream>>>(g, batch, s, dx);
  checkLaunch("avgPoolGradient");
}

void activationForward(cudaStream_t stream, LayerKind kind, float alpha, int approximate, const float* x, float* y,
                       int64_t count) {
  activationKernel<<<blocksFor(count), kBlock, 0, stream>>>(kind, alpha, approximate, x, y, count);
  checkLaunch("activation");
}

void affineForward(cudaStream_t stream, int batch, int channels, int64_t inner, const float* scale, const float* shift,
                   const float* x, float* y) {
  affineKernel<<<blocksFor(int64_t(batch) * channels * inner), kBlock, 0, stream>>>(batch, channels, inner, scale, shift, x, y);
  checkLaunch("affine");
}

void inputVariant(cudaStream_t stream, InputVariant variant, int batch, int64_t size, const float* x, const float* bound,
                  float scalar, float* out) {
  const int64_t count = int64_t(batch) * size;
  inputVariantKernel<<<blocksFor(count), kBlock, 0, stream>>>(variant, size, count, x, bound, scalar, out);
  checkLaunch("inputVariant");
}

void stabilizedDivide(cudaStream_t stream, const float* r, const float* z, const float* mask, int maskSign, float epsilon,
                      float* s, int64_t count) {
  stabilizedDivideKernel<<<blocksFor(count), kBlock, 0, stream>>>(r, z, mask, maskSign, epsilon, s, count);
  checkLaunch("stabilizedDivide");
}

void multiplyAccumulate(cudaStream_t stream, float* dst, const float* a, const float* c, float coefficient, int64_t count) {
  multiplyAccumulateKernel<<<blocksFor(count), kBlock, 0, stream>>>(dst, a, c, coefficient, count);
  checkLaunch("multiplyAccumulate");
}

void add(cudaStream_t stream, float* dst, const float* src, int64_t count) {
  addKernel<<<blocksFor(count), kBlock, 0, stream>>>(dst, src, count);
  checkLaunch("add");
}

void fill(cudaStream_t stream, float* buffer, float value, int64_t count) {
  fillKernel<<<blocksFor(count), kBlock, 0, stream>>>(buffer, value, count);
  checkLaunch("fill");
}

void copyBlocks(cudaStream_t stream, int64_t rows, int64_t block, const float* src, int64_t srcStride, float* dst,
                int64_t dstStride, bool accumulate, float alpha) {
  copyBlocksKernel<<<blocksFor(rows * block), kBlock, 0, stream>>>(rows, block, src, srcStride, dst, dstStride, accumulate, alpha);
  checkLaunch("copyBlocks");
}

void signSummary(cudaStream_t stream, const float* x, int64_t count, int* flags) {
  const unsigned blocks = blocksFor(count) < 1024 ? blocksFor(count) : 1024;
  signSummaryKernel<<<blocks, kBlock, 0, stream>>>(x, count, flags);
  checkLaunch("signSummary");
}

void padForward(cudaStream_t stream, int batch, int channels, int height, int width, const int padding[4], const float* x,
                float* y) {
  const int64_t count = int64_t(batch) * channels * (height + padding[0] + padding[2]) * (width + padding[1] + padding[3]);
  padForwardKernel<<<blocksFor(count), kBlock, 0, stream>>>(batch * channels, height, width, padding[0], padding[1], padding[2],
                                                            padding[3], x, y);
  checkLaunch("padForward");
}

void padCrop(cudaStream_t stream, int batch, int channels, int height, int width, const int padding[4], const float* r,
             float* dx) {
  const int64_t count = int64_t(batch) * channels * height * width;
  padCropKernel<<<blocksFor(count), kBlock, 0, stream>>>(batch * channels, height, width, padding[0], padding[1], padding[2],
                                                         padding[3], r, dx);
  checkLaunch("padCrop");
}

void sumPerSample(cudaStream_t stream, const float* x, int batch, int64_t size, double* out) {
  if (batch <= 0) return;
  sumPerSampleKernel<<<unsigned(batch), kBlock, 0, stream>>>(x, size, out);
  checkLaunch("sumPerSample");
}

void probe(cudaStream_t stream, int* flag) {
  probeKernel<<<1, 1, 0, stream>>>(flag);
  checkLaunch("probe");
}

}  // namespace lrp::cuda
