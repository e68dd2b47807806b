// CudaBackend: lrp::Backend on one GPU. Buffers live in device memory from the stream-ordered pool, every operation is
// queued on the backend's stream, and only upload/download and the per-sample sums wait for it. Convolutions run as
// im2col + one GEMM over many images at once (the batch-wide layout of cuda_kernels.h).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "../engine/backend.h"
#include "../engine/error.h"
#include "cuda_kernels.h"

namespace lrp {

namespace {

// Scratch memory of one operation, freed in stream order when it goes out of scope.
class Scratch {
 public:
  Scratch(cudaStream_t stream, size_t bytes) : stream_(stream) {
    cuda::check(cudaMallocAsync(&data_, std::max<size_t>(bytes, 16), stream), "allocating scratch memory");
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { cudaFreeAsync(data_, stream_); }
  template <typename T>
  T* as() const { return static_cast<T*>(data_); }

 private:
  cudaStream_t stream_;
  void* data_ = nullptr;
};

// The im2col buffer of one convolution holds at most this many floats (256 MiB); larger batches go in chunks of images.
constexpr int64_t kConvWorkspaceFloats = int64_t(64) << 20;

std::string versionString(int version) { return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10); }

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    activate();
    cuda::check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "creating a stream");
    // Keep freed memory in the pool: buffers come and go every layer, and going back to the driver each time is slow.
    cudaMemPool_t pool;
    cuda::check(cudaDeviceGetDefaultMemPool(&pool, device), "getting the memory pool");
    uint64_t threshold = UINT64_MAX;
    cuda::check(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold), "configuring the memory pool");
  }

  ~CudaBackend() override {
    // No throwing here: errors at teardown are ignored.
    cudaSetDevice(device_);
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
    // Hand the memory this model no longer uses back to the driver (other models' live buffers stay).
    cudaMemPool_t pool;
    if (cudaDeviceGetDefaultMemPool(&pool, device_) == cudaSuccess) cudaMemPoolTrimTo(pool, 0);
    cudaGetLastError();
  }

  const char* name() const override { return "cuda"; }

  float* allocate(int64_t count) override {
    if (count < 0 || count > kMaxElements * 4) throw Error("E_TOO_LARGE", "buffer of " + std::to_string(count) + " floats");
    activate();
    const size_t bytes = size_t(std::max<int64_t>(count, 1)) * sizeof(float);
    void* p = nullptr;
    cuda::check(cudaMallocAsync(&p, bytes, stream_), ("allocating " + std::to_string(bytes) + " bytes").c_str());
    cuda::check(cudaMemsetAsync(p, 0, bytes, stream_), "zeroing a buffer");
    return static_cast<float*>(p);
  }

  void release(float* buffer) override {
    // Never throws: called from destructors.
    if (!buffer) return;
    cudaSetDevice(device_);
    cudaFreeAsync(buffer, stream_);
  }

  void upload(float* device, const float* host, int64_t count) override {
    if (count <= 0) return;
    activate();
    cuda::check(cudaMemcpyAsync(device, host, size_t(count) * sizeof(float), cudaMemcpyHostToDevice, stream_), "upload");
    // The host memory may be freed as soon as this returns.
    cuda::check(cudaStreamSynchronize(stream_), "upload");
  }

  void download(float* host, const float* device, int64_t count) override {
    if (count <= 0) return;
    activate();
    cuda::check(cudaMemcpyAsync(host, device, size_t(count) * sizeof(float), cudaMemcpyDeviceToHost, stream_), "download");
    cuda::check(cudaStreamSynchronize(stream_), "download");
  }

  void fill(float* buffer, float value, int64_t count) override {
    if (count <= 0) return;
    activate();
    if (value == 0.f) cuda::check(cudaMemsetAsync(buffer, 0, size_t(count) * sizeof(float), stream_), "fill");
    else cuda::fill(stream_, buffer, value, count);
  }

  void copy(float* dst, const float* src, int64_t count) override {
    if (count <= 0 || dst == src) return;
    activate();
    cuda::check(cudaMemcpyAsync(dst, src, size_t(count) * sizeof(float), cudaMemcpyDeviceToDevice, stream_), "copy");
  }

  void setThreads(int) override {}

  void denseForward(int batch, int in, int out, const float* x, const float* weight, const float* bias, float* y,
                    bool accumulate, float sign) override {
    activate();
    // y[batch, out] = sign · x[batch, in] · W[out, in]ᵀ (+ y)
    cuda::sgemm(stream_, false, true, batch, out, in, sign, x, in, weight, in, accumulate ? 1.f : 0.f, y, out);
    if (bias) cuda::addChannelBias(stream_, batch, out, 1, bias, sign, y);
  }

  void denseTransposed(int batch, int in, int out, const float* s, const float* weight, float* dx) override {
    activate();
    // dx[batch, in] = s[batch, out] · W[out, in]
    cuda::sgemm(stream_, false, false, batch, in, out, 1.f, s, out, weight, in, 0.f, dx, in);
  }

  void convForward(const ConvGeometry& g, int batch, const float* x, const float* weight, const float* bias, float* y,
                   bool accumulate, float sign) override {
    activate();
    const int inG = g.inChannels / g.groups, outG = g.outChannels / g.groups;
    const int kk = inG * g.kernelHeight * g.kernelWidth;
    const int64_t outSize = int64_t(g.outHeight) * g.outWidth, inSize = int64_t(g.inHeight) * g.inWidth;
    const int chunk = imagesPerChunk(g, batch);
    Scratch col(stream_, size_t(kk) * chunk * outSize * sizeof(float));
    Scratch wide(stream_, size_t(outG) * chunk * outSize * sizeof(float));
    for (int n0 = 0; n0 < batch; n0 += chunk) {
      const int samples = std::min(chunk, batch - n0);
      const int64_t columns = samples * outSize;
      for (int group = 0; group < g.groups; ++group) {
        cuda::im2colWide(stream_, g, group, samples, x + int64_t(n0) * g.inChannels * inSize, col.as<float>());
        // wide[outG, samples·outSize] = sign · W_group[outG, kk] · col[kk, samples·outSize]
        cuda::sgemm(stream_, false, false, outG, int(columns), kk, sign, weight + int64_t(group) * outG * kk, kk, col.as<float>(),
                    int(columns), 0.f, wide.as<float>(), int(columns));
        cuda::scatterChannels(stream_, samples, outG, g.outChannels, group * outG, outSize, wide.as<float>(),
                              bias ? bias + group * outG : nullptr, sign, accumulate, y + int64_t(n0) * g.outChannels * outSize);
      }
    }
  }

  void convTransposed(const ConvGeometry& g, int batch, const float* s, const float* weight, float* dx) override {
    activate();
    const int inG = g.inChannels / g.groups, outG = g.outChannels / g.groups;
    const int kk = inG * g.kernelHeight * g.kernelWidth;
    const int64_t outSize = int64_t(g.outHeight) * g.outWidth, inSize = int64_t(g.inHeight) * g.inWidth;
    const int chunk = imagesPerChunk(g, batch);
    Scratch col(stream_, size_t(kk) * chunk * outSize * sizeof(float));
    Scratch wide(stream_, size_t(outG) * chunk * outSize * sizeof(float));
    for (int n0 = 0; n0 < batch; n0 += chunk) {
      const int samples = std::min(chunk, batch - n0);
      const int64_t columns = samples * outSize;
      for (int group = 0; group < g.groups; ++group) {
        cuda::gatherChannels(stream_, samples, outG, g.outChannels, group * outG, outSize,
                             s + int64_t(n0) * g.outChannels * outSize, wide.as<float>());
        // col[kk, samples·outSize] = W_group[outG, kk]ᵀ · wide[outG, samples·outSize]
        cuda::sgemm(stream_, true, false, kk, int(columns), outG, 1.f, weight + int64_t(group) * outG * kk, kk, wide.as<float>(),
                    int(columns), 0.f, col.as<float>(), int(columns));
        cuda::col2imWide(stream_, g, group, samples, col.as<float>(), dx + int64_t(n0) * g.inChannels * inSize);
      }
    }
  }

  void addChannelBias(int batch, int channels, int inner, const float* bias, float sign, float* y) override {
    activate();
    cuda::addChannelBias(stream_, batch, channels, inner, bias, sign, y);
  }

  void maxPoolForward(const PoolGeometry& g, int batch, const float* x, float* y) override {
    activate();
    cuda::maxPoolForward(stream_, g, batch, x, y);
  }

  void maxPoolGradient(const PoolGeometry& g, int batch, const float* x, const float* r, float* dx) override {
    activate();
    Scratch argmax(stream_, size_t(batch) * g.channels * g.outHeight * g.outWidth * sizeof(int));
    cuda::maxPoolGradient(stream_, g, batch, x, r, argmax.as<int>(), dx);
  }

  void avgPoolForward(const PoolGeometry& g, int batch, const float* x, float* y) override {
    activate();
    cuda::avgPoolForward(stream_, g, batch, x, y);
  }

  void avgPoolGradient(const PoolGeometry& g, int batch, const float* s, float* dx) override {
    activate();
    cuda::avgPoolGradient(stream_, g, batch, s, dx);
  }

  void activationForward(LayerKind kind, float alpha, int approximate, const float* x, float* y, int64_t count) override {
    activate();
    cuda::activationForward(stream_, kind, alpha, approximate, x, y, count);
  }

  void affineForward(int batch, int channels, int inner, const float* scale, const float* shift, const float* x,
                     float* y) override {
    activate();
    cuda::affineForward(stream_, batch, channels, inner, scale, shift, x, y);
  }

  void inputVariant(InputVariant variant, int batch, int64_t size, const float* x, const float* bound, float scalar,
                    float* out) override {
    activate();
    cuda::inputVariant(stream_, variant, batch, size, x, bound, scalar, out);
  }

  void stabilizedDivide(const float* r, const float* z, const float* mask, int maskSign, float epsilon, float* s,
                        int64_t count) override {
    activate();
    cuda::stabilizedDivide(stream_, r, z, mask, maskSign, epsilon, s, count);
  }

  void multiplyAccumulate(float* dst, const float* a, const float* c, float coefficient, int64_t count) override {
    activate();
    cuda::multiplyAccumulate(stream_, dst, a, c, coefficient, count);
  }

  void add(float* dst, const float* src, int64_t count) override {
    activate();
    cuda::add(stream_, dst, src, count);
  }

  void copyBlocks(int64_t rows, int64_t block, const float* src, int64_t srcStride, float* dst, int64_t dstStride,
                  bool accumulate, float alpha) override {
    if (rows <= 0 || block <= 0) return;
    activate();
    cuda::copyBlocks(stream_, rows, block, src, srcStride, dst, dstStride, accumulate, alpha);
  }

  void signSummary(const float* x, int64_t count, bool* hasPositive, bool* hasNegative) override {
    activate();
    Scratch flags(stream_, 2 * sizeof(int));
    cuda::check(cudaMemsetAsync(flags.as<int>(), 0, 2 * sizeof(int), stream_), "signSummary");
    if (count > 0) cuda::signSummary(stream_, x, count, flags.as<int>());
    int host[2] = {0, 0};
    cuda::check(cudaMemcpyAsync(host, flags.as<int>(), sizeof host, cudaMemcpyDeviceToHost, stream_), "signSummary");
    cuda::check(cudaStreamSynchronize(stream_), "signSummary");
    *hasPositive = host[0] != 0;
    *hasNegative = host[1] != 0;
  }

  void padForward(int batch, int channels, int height, int width, const int padding[4], const float* x, float* y) override {
    activate();
    cuda::padForward(stream_, batch, channels, height, width, padding, x, y);
  }

  void padCrop(int batch, int channels, int height, int width, const int padding[4], const float* r, float* dx) override {
    activate();
    cuda::padCrop(stream_, batch, channels, height, width, padding, r, dx);
  }

  void sumPerSample(const float* x, int batch, int64_t size, double* hostOut) override {
    if (batch <= 0) return;
    activate();
    Scratch sums(stream_, size_t(batch) * sizeof(double));
    cuda::sumPerSample(stream_, x, batch, size, sums.as<double>());
    cuda::check(cudaMemcpyAsync(hostOut, sums.as<double>(), size_t(batch) * sizeof(double), cudaMemcpyDeviceToHost, stream_),
                "sumPerSample");
    cuda::check(cudaStreamSynchronize(stream_), "sumPerSample");
  }

 private:
  // The device is per host thread in CUDA, and each explain call runs on its own worker thread.
  void activate() const {
    thread_local int current = -1;
    if (current != device_) {
      cuda::check(cudaSetDevice(device_), "selecting the device");
      current = device_;
    }
  }

  static int imagesPerChunk(const ConvGeometry& g, int batch) {
    const int64_t perImage = int64_t(g.inChannels / g.groups * g.kernelHeight * g.kernelWidth + g.outChannels / g.groups) *
                             g.outHeight * g.outWidth;
    int64_t chunk = std::max<int64_t>(1, kConvWorkspaceFloats / std::max<int64_t>(perImage, 1));
    // GEMM sizes are int: keep samples·outSize below 2^31.
    chunk = std::min<int64_t>(chunk, kMaxElements / std::max<int64_t>(int64_t(g.outHeight) * g.outWidth, 1));
    return int(std::min<int64_t>(chunk, batch));
  }

  int device_;
  cudaStream_t stream_ = nullptr;
};

}  // namespace

std::unique_ptr<Backend> makeCudaBackend(int device) {
  int driver = 0;
  cudaDriverGetVersion(&driver);
  if (driver == 0) {
    throw Error("E_DEVICE", "no NVIDIA driver: the CUDA driver library (libcuda) could not be loaded, so no GPU can be used; "
                            "install the NVIDIA driver or use device 'cpu'");
  }
  if (driver / 1000 < CUDART_VERSION / 1000) {
    throw Error("E_DEVICE", "the NVIDIA driver supports CUDA " + versionString(driver) + " but lrp-node was built with CUDA " +
                                versionString(CUDART_VERSION) + "; update the driver or use device 'cpu'");
  }
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status == cudaErrorNoDevice || (status == cudaSuccess && count == 0)) {
    cudaGetLastError();
    throw Error("E_DEVICE", "no CUDA device: the NVIDIA driver (CUDA " + versionString(driver) + ") is present but reports no GPU");
  }
  if (status != cudaSuccess) {
    cudaGetLastError();
    throw Error("E_DEVICE", std::string("no usable CUDA device: ") + cudaGetErrorString(status));
  }
  if (device < 0 || device >= count) {
    throw Error("E_DEVICE", "CUDA device " + std::to_string(device) + " does not exist (" + std::to_string(count) + " present)");
  }
  cudaDeviceProp properties;
  cuda::check(cudaGetDeviceProperties(&properties, device), "reading the device properties");
  // A tiny kernel tells whether this build has code for the GPU (sm_80, sm_90, compute_90 PTX for newer ones).
  try {
    cuda::check(cudaSetDevice(device), "selecting the device");
    int* flag = nullptr;
    cuda::check(cudaMalloc(&flag, sizeof(int)), "allocating");
    cuda::probe(nullptr, flag);
    const cudaError_t ran = cudaDeviceSynchronize();
    cudaFree(flag);
    cuda::check(ran, "running a test kernel");
  } catch (const Error& error) {
    throw Error("E_DEVICE", std::string("GPU ") + properties.name + " (compute capability " + std::to_string(properties.major) +
                                "." + std::to_string(properties.minor) + ") cannot run this build's kernels: " + error.what());
  }
  return std::make_unique<CudaBackend>(device);
}

}  // namespace lrp
