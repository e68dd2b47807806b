// The compute backend seam: every operation the engine needs, on buffers the backend owns. The engine never touches
// buffer contents itself, so a CUDA backend slots in by implementing this interface.
#pragma once
#include <cstdint>
#include <memory>

#include "plan.h"
#include "rule.h"

namespace lrp {

// The operands of s = m·r / (z + ε·sign0(z)), m = 1 or [mask > 0] / [mask < 0] for maskSign ±1 (stabilizedDivide's).
struct Quotient {
  const float* r;
  const float* z;
  const float* mask;
  int maskSign;
  float epsilon;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // True when buffers are plain host memory (then the model's own weights are used in place).
  virtual bool sharesHostMemory() const { return false; }

  // Memory: zero-initialised buffers of `count` floats, in the backend's memory.
  virtual float* allocate(int64_t count) = 0;
  // As allocate, for buffers the next operation overwrites completely (contents undefined: no zeroing pass).
  virtual float* allocateUninitialized(int64_t count) { return allocate(count); }
  virtual void release(float* buffer) = 0;
  virtual void upload(float* device, const float* host, int64_t count) = 0;
  virtual void download(float* host, const float* device, int64_t count) = 0;
  virtual void fill(float* buffer, float value, int64_t count) = 0;
  virtual void copy(float* dst, const float* src, int64_t count) = 0;

  // Linear layers. Forward: y = sign·(op(x)) + bias (bias may be null), or y += … when `accumulate`.
  // Transposed: dx = Wᵀ-map of s (overwrites dx).
  virtual void denseForward(int batch, int in, int out, const float* x, const float* weight, const float* bias, float* y,
                            bool accumulate, float sign) = 0;
  virtual void denseTransposed(int batch, int in, int out, const float* s, const float* weight, float* dx) = 0;
  virtual void convForward(const ConvGeometry& g, int batch, const float* x, const float* weight, const float* bias, float* y,
                           bool accumulate, float sign) = 0;
  virtual void convTransposed(const ConvGeometry& g, int batch, const float* s, const float* weight, float* dx) = 0;
  // dx = in ⊙ convTransposed(s) (in null: ones), the same values as multiply() after convTransposed. Backends fuse
  // the product into the transposed convolution's store where they can; the default composes the two.
  virtual void convTransposedTimes(const ConvGeometry& g, int batch, const float* s, const float* weight, const float* in,
                                   float* dx);
  // convTransposedTimes of s = m·r / stab(z), the quotient stabilizedDivide computes from q. Backends compute s where
  // they copy it anyway (the CPU's zero-padded copy), a pass over memory less; the default composes the two. With
  // `sums` (host memory, one per sample), also sumPerSample's sums of dx: the CPU takes each sample's while it is in
  // cache, instead of a pass over the whole of dx after.
  virtual void convTransposedQuotientTimes(const ConvGeometry& g, int batch, const Quotient& q, const float* weight,
                                           const float* in, float* dx, double* sums = nullptr);
  // y = conv(x) + bias and relu = max(y, 0), for a convolution a ReLU follows (the relevance pass needs both);
  // relu may be y (only max(y, 0) kept) where supportsReluInPlace().
  virtual void convForwardRelu(const ConvGeometry& g, int batch, const float* x, const float* weight, const float* bias,
                               float* y, float* relu) {
    convForward(g, batch, x, weight, bias, y, false, 1.f);
    activationForward(LayerKind::Relu, 0.f, 0, y, relu, int64_t(batch) * g.outChannels * g.outHeight * g.outWidth);
  }
  // True where convForwardRelu and sumForward accept relu == y (their kernels checked for that aliasing).
  virtual bool supportsReluInPlace() const { return false; }
  // y[n, c, ...] += sign·bias[c] over `inner` positions per channel.
  virtual void addChannelBias(int batch, int channels, int inner, const float* bias, float sign, float* y) = 0;

  // Pooling. maxPoolGradient sends each output's relevance to the first maximum of its window (dx overwritten);
  // avgPoolGradient distributes s[j] / k_j to window j's positions (dx overwritten).
  virtual void maxPoolForward(const PoolGeometry& g, int batch, const float* x, float* y) = 0;
  virtual void maxPoolGradient(const PoolGeometry& g, int batch, const float* x, const float* r, float* dx) = 0;
  virtual void avgPoolForward(const PoolGeometry& g, int batch, const float* x, float* y) = 0;
  virtual void avgPoolGradient(const PoolGeometry& g, int batch, const float* s, float* dx) = 0;

  // Element-wise.
  virtual void activationForward(LayerKind kind, float alpha, int approximate, const float* x, float* y, int64_t count) = 0;
  virtual void affineForward(int batch, int channels, int inner, const float* scale, const float* shift, const float* x,
                             float* y) = 0;
  // out = variant(x): a, a⁺, a⁻, 1, or the zBox bound (per-sample tensor `bound` repeated over the batch, or `scalar`).
  virtual void inputVariant(InputVariant variant, int batch, int64_t size, const float* x, const float* bound, float scalar,
                            float* out) = 0;
  // s = m·r / (z + eps·sign0(z)), m = 1, or [mask > 0] / [mask < 0] for maskSign ±1.
  virtual void stabilizedDivide(const float* r, const float* z, const float* mask, int maskSign, float epsilon, float* s,
                                int64_t count) = 0;
  // The γ rule's two quotients for an input without negative values (see the executor's gammaOnNonNegative), written
  // per sample as [s₁; s₂] (each `size` floats): with z₁ = y + γ·q and z₂ = (1 + γ)·y − γ·q,
  // s₁ = [y > 0]·r / stab(z₁) and s₂ = [y < 0]·r / stab(z₂). The default composes the generic operations.
  virtual void gammaQuotients(int batch, int64_t size, const float* y, const float* q, const float* r, float gamma,
                              float epsilon, float* s);
  // gammaQuotients' s₁ alone, laid out as y: for a layer whose r is 0 wherever y ≤ 0 (relu_gated.h), where s₂ is 0.
  // The same values as s₁ there; the default composes the generic operations as gammaQuotients' does.
  virtual void gammaPositiveQuotient(int64_t count, const float* y, const float* q, const float* r, float gamma,
                                     float epsilon, float* s);
  // out = a ⊙ r / stab(z): stabilizedDivide (no mask) and multiply in one pass where the backend can (the norm rule of
  // sums and average pools); the default composes the two.
  virtual void quotientTimes(const float* r, const float* z, float epsilon, const float* a, float* out, int64_t count);
  // quotientTimes for two inputs sharing r and z (a sum of two): out_k = a_k ⊙ r / stab(z), each quotient computed once
  // where the backend can; the default makes two calls.
  virtual void quotientTimesPair(const float* r, const float* z, float epsilon, const float* a0, const float* a1,
                                 float* out0, float* out1, int64_t count) {
    quotientTimes(r, z, epsilon, a0, out0, count);
    quotientTimes(r, z, epsilon, a1, out1, count);
  }
  // y = a + b, and max(y, 0) into `relu` when it is not null (a sum and the ReLU after it), in one pass where the
  // backend can; the default copies, adds and applies the activation. relu may be y where supportsReluInPlace().
  virtual void sumForward(const float* a, const float* b, float* y, float* relu, int64_t count) {
    copy(y, a, count);
    add(y, b, count);
    if (relu) activationForward(LayerKind::Relu, 0.f, 0, y, relu, count);
  }
  // dst += coefficient · a ⊙ c (a null: ones).
  virtual void multiplyAccumulate(float* dst, const float* a, const float* c, float coefficient, int64_t count) = 0;
  // dst = a ⊙ c (a null: c), the same values as multiplyAccumulate onto zeros with coefficient 1.
  virtual void multiply(float* dst, const float* a, const float* c, int64_t count) {
    fill(dst, 0.f, count);
    multiplyAccumulate(dst, a, c, 1.f, count);
  }
  // dst += src.
  virtual void add(float* dst, const float* src, int64_t count) = 0;
  // dst[r·dstStride + i] (+)= alpha · src[r·srcStride + i] for `rows` blocks of `block` floats; `accumulate` adds.
  virtual void copyBlocks(int64_t rows, int64_t block, const float* src, int64_t srcStride, float* dst, int64_t dstStride,
                          bool accumulate, float alpha = 1.f) = 0;
  // Whether x holds any value > 0 and any value < 0 (lets rules skip terms that are exactly zero, e.g. a⁻ after ReLU).
  virtual void signSummary(const float* x, int64_t count, bool* hasPositive, bool* hasNegative) = 0;
  // Zero padding of the last two axes, and its transpose (crop into dx, overwriting it).
  virtual void padForward(int batch, int channels, int height, int width, const int padding[4], const float* x, float* y) = 0;
  virtual void padCrop(int batch, int channels, int height, int width, const int padding[4], const float* r, float* dx) = 0;

  // Per-sample sums in double precision, written to host memory.
  virtual void sumPerSample(const float* x, int batch, int64_t size, double* hostOut) = 0;
  // Number of compute threads operations may use.
  virtual void setThreads(int threads) = 0;
  // Bytes the backend keeps for its own derived forms of the weights (e.g. packed or flipped copies).
  virtual int64_t derivedWeightBytes() { return 0; }
};

// A buffer owned by a backend, released on destruction.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend& backend, int64_t count) : backend_(&backend), data_(backend.allocate(count)), count_(count) {}
  // A buffer whose contents are undefined until written (see Backend::allocateUninitialized).
  static Buffer uninitialized(Backend& backend, int64_t count) {
    Buffer b;
    b.backend_ = &backend;
    b.data_ = backend.allocateUninitialized(count);
    b.count_ = count;
    return b;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& other) noexcept { *this = std::move(other); }
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      reset();
      backend_ = other.backend_;
      data_ = other.data_;
      count_ = other.count_;
      other.data_ = nullptr;
      other.count_ = 0;
    }
    return *this;
  }
  ~Buffer() { reset(); }
  void reset() {
    if (data_ && backend_) backend_->release(data_);
    data_ = nullptr;
    count_ = 0;
  }
  float* data() const { return data_; }
  int64_t count() const { return count_; }
  explicit operator bool() const { return data_ != nullptr; }

 private:
  Backend* backend_ = nullptr;
  float* data_ = nullptr;
  int64_t count_ = 0;
};

inline void Backend::convTransposedTimes(const ConvGeometry& g, int batch, const float* s, const float* weight,
                                         const float* in, float* dx) {
  if (!in) return convTransposed(g, batch, s, weight, dx);
  Buffer c = Buffer::uninitialized(*this, int64_t(batch) * g.inChannels * g.inHeight * g.inWidth);
  convTransposed(g, batch, s, weight, c.data());
  multiply(dx, in, c.data(), c.count());
}

inline void Backend::quotientTimes(const float* r, const float* z, float epsilon, const float* a, float* out,
                                   int64_t count) {
  Buffer s = Buffer::uninitialized(*this, count);
  stabilizedDivide(r, z, nullptr, 0, epsilon, s.data(), count);
  multiply(out, a, s.data(), count);
}

inline void Backend::convTransposedQuotientTimes(const ConvGeometry& g, int batch, const Quotient& q, const float* weight,
                                                 const float* in, float* dx, double* sums) {
  Buffer s = Buffer::uninitialized(*this, int64_t(batch) * g.outChannels * g.outHeight * g.outWidth);
  stabilizedDivide(q.r, q.z, q.mask, q.maskSign, q.epsilon, s.data(), s.count());
  convTransposedTimes(g, batch, s.data(), weight, in, dx);
  if (sums) sumPerSample(dx, batch, int64_t(g.inChannels) * g.inHeight * g.inWidth, sums);
}

inline void Backend::gammaQuotients(int batch, int64_t size, const float* y, const float* q, const float* r, float gamma,
                                    float epsilon, float* s) {
  const int64_t count = int64_t(batch) * size;
  Buffer z = Buffer::uninitialized(*this, count), part = Buffer::uninitialized(*this, count);
  for (int k = 0; k < 2; ++k) {
    copyBlocks(1, count, y, count, z.data(), count, false, k == 0 ? 1.f : 1.f + gamma);
    copyBlocks(1, count, q, count, z.data(), count, true, k == 0 ? gamma : -gamma);
    stabilizedDivide(r, z.data(), y, k == 0 ? +1 : -1, epsilon, part.data(), count);
    copyBlocks(batch, size, part.data(), size, s + k * size, 2 * size, false);
  }
}

inline void Backend::gammaPositiveQuotient(int64_t count, const float* y, const float* q, const float* r, float gamma,
                                           float epsilon, float* s) {
  Buffer z = Buffer::uninitialized(*this, count);
  copyBlocks(1, count, y, count, z.data(), count, false, 1.f);
  copyBlocks(1, count, q, count, z.data(), count, true, gamma);
  stabilizedDivide(r, z.data(), y, +1, epsilon, s, count);
}

std::unique_ptr<Backend> makeCpuBackend();

#ifdef LRP_WITH_CUDA
// The CUDA backend on GPU `device` (native/cuda). Throws lrp::Error E_DEVICE saying what is missing: the driver (or
// one too old for this build), or a CUDA device.
std::unique_ptr<Backend> makeCudaBackend(int device);
#endif

}  // namespace lrp
