// The CUDA kernels behind CudaBackend, as host functions that launch on a stream: a tiled SGEMM, im2col / col2im in
// a batch-wide layout, pooling, and the rule arithmetic as element-wise kernels. No cuBLAS.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "../engine/plan.h"
#include "../engine/rule.h"

namespace lrp::cuda {

// Throws lrp::Error for a failed CUDA call (E_MEMORY_BUDGET when out of memory, E_DEVICE when the device is lost or
// unsupported, E_NATIVE otherwise), naming `what`.
void check(cudaError_t status, const char* what);
// Checks the last kernel launch.
void checkLaunch(const char* what);

// C = alpha · op(A) · op(B) + beta · C, row-major, op(A) M×K, op(B) K×N; beta 0 never reads C.
void sgemm(cudaStream_t stream, bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc);

// Convolution of group `group` for `samples` images (x points at the first one), in the batch-wide layout that lets one
// GEMM cover many images: col[(c·kh + i)·kw + j][n·outSize + p].
void im2colWide(cudaStream_t stream, const ConvGeometry& g, int group, int samples, const float* x, float* col);
// The transpose: dx[n, group's channels] = Σ over taps of col (overwritten; deterministic, no atomics).
void col2imWide(cudaStream_t stream, const ConvGeometry& g, int group, int samples, const float* col, float* dx);
// y[n, offset + c, p] = (accumulate ? y : 0) + wide[c, n, p] + sign·bias[c] (bias may be null).
void scatterChannels(cudaStream_t stream, int samples, int channels, int totalChannels, int offset, int64_t inner,
                     const float* wide, const float* bias, float sign, bool accumulate, float* y);
// wide[c, n, p] = x[n, offset + c, p].
void gatherChannels(cudaStream_t stream, int samples, int channels, int totalChannels, int offset, int64_t inner,
                    const float* x, float* wide);
// y[n, c, k] += sign·bias[c].
void addChannelBias(cudaStream_t stream, int batch, int channels, int64_t inner, const float* bias, float sign, float* y);

void maxPoolForward(cudaStream_t stream, const PoolGeometry& g, int batch, const float* x, float* y);
// argmax: scratch of batch·channels·outHeight·outWidth ints.
void maxPoolGradient(cudaStream_t stream, const PoolGeometry& g, int batch, const float* x, const float* r, int* argmax,
                     float* dx);
void avgPoolForward(cudaStream_t stream, const PoolGeometry& g, int batch, const float* x, float* y);
void avgPoolGradient(cudaStream_t stream, const PoolGeometry& g, int batch, const float* s, float* dx);

void activationForward(cudaStream_t stream, LayerKind kind, float alpha, int approximate, const float* x, float* y,
                       int64_t count);
void affineForward(cudaStream_t stream, int batch, int channels, int64_t inner, const float* scale, const float* shift,
                   const float* x, float* y);
void inputVariant(cudaStream_t stream, InputVariant variant, int batch, int64_t size, const float* x, const float* bound,
                  float scalar, float* out);
void stabilizedDivide(cudaStream_t stream, const float* r, const float* z, const float* mask, int maskSign, float epsilon,
                      float* s, int64_t count);
void multiplyAccumulate(cudaStream_t stream, float* dst, const float* a, const float* c, float coefficient, int64_t count);
void add(cudaStream_t stream, float* dst, const float* src, int64_t count);
void fill(cudaStream_t stream, float* buffer, float value, int64_t count);
void copyBlocks(cudaStream_t stream, int64_t rows, int64_t block, const float* src, int64_t srcStride, float* dst,
                int64_t dstStride, bool accumulate, float alpha);
// flags[0] |= any x > 0, flags[1] |= any x < 0 (flags zeroed by the caller).
void signSummary(cudaStream_t stream, const float* x, int64_t count, int* flags);
void padForward(cudaStream_t stream, int batch, int channels, int height, int width, const int padding[4], const float* x,
                float* y);
void padCrop(cudaStream_t stream, int batch, int channels, int height, int width, const int padding[4], const float* r,
             float* dx);
// out[n] = Σ x[n, :] in double (device memory).
void sumPerSample(cudaStream_t stream, const float* x, int batch, int64_t size, double* out);
// A one-thread kernel: launching it tells whether this binary has code the device can run.
void probe(cudaStream_t stream, int* flag);

}  // namespace lrp::cuda
