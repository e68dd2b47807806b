// The CPU backend: GEMM-based dense and convolution, pooling and the rule arithmetic, split over the compute pool.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numeric>
#include <mutex>
#include <new>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "../kernels/conv.h"
#include "../kernels/conv_direct.h"
#include "../kernels/conv_gemm.h"
#include "../kernels/conv_rows.h"
#include "../kernels/elementwise.h"
#include "../kernels/float_memory.h"
#include "../kernels/gemm.h"
#include "../kernels/gemm_packed_b.h"
#include "../kernels/pool.h"
#include "backend.h"
#include "error.h"
#include "thread_pool.h"

namespace lrp {

namespace {

using kernels::sgemm;

kernels::ConvShape groupShape(const ConvGeometry& g) {
  return kernels::ConvShape{g.inChannels / g.groups, g.inHeight, g.inWidth, g.outHeight, g.outWidth,
                            g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth, g.padTop, g.padLeft,
                            g.dilationHeight, g.dilationWidth};
}

bool isPointwise(const ConvGeometry& g) {
  return g.kernelHeight == 1 && g.kernelWidth == 1 && g.strideHeight == 1 && g.strideWidth == 1 && g.padTop == 0 &&
         g.padLeft == 0 && g.outHeight == g.inHeight && g.outWidth == g.inWidth;
}

class CpuBackend;

// Scratch memory from the backend's pool (recycled across calls, not zeroed), grown on demand.
class Scratch {
 public:
  explicit Scratch(CpuBackend& backend) : backend_(backend) {}
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch();
  void reserve(int64_t count);
  float* data() const { return data_; }

 private:
  CpuBackend& backend_;
  float* data_ = nullptr;
  int64_t count_ = 0;
};

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  bool sharesHostMemory() const override { return true; }

  ~CpuBackend() override {
    for (auto& entry : free_) kernels::freeFloats(entry.second);
  }

  // Buffers are recycled: every call of a model asks for the same sizes again, and reusing them avoids the page
  // faults of fresh memory (a large share of the time otherwise).
  float* allocate(int64_t count) override { return take(count, true); }
  float* allocateUninitialized(int64_t count) override { return take(count, false); }

  float* take(int64_t count, bool zeroed) {
    if (count < 0 || count > kMaxElements * 4) throw Error("E_TOO_LARGE", "buffer of " + std::to_string(count) + " floats");
    count = std::max<int64_t>(count, 1);
    float* p = nullptr;
    int64_t capacity = count;
    {
      std::lock_guard<std::mutex> lock(poolMutex_);
      // Best fit: the smallest recycled buffer that holds `count` floats, if it is less than twice that size.
      auto it = free_.lower_bound(count);
      if (it != free_.end() && it->first <= 2 * count) {
        p = it->second;
        capacity = it->first;
        free_.erase(it);
        cachedBytes_ -= capacity * 4;
      }
    }
    if (p) {
      if (zeroed) parallelCopy(p, nullptr, count);
    } else {
      p = kernels::allocateFloats(size_t(count), zeroed);
      if (!p) throw Error("E_MEMORY_BUDGET", "out of memory allocating " + std::to_string(count * 4) + " bytes");
    }
    std::lock_guard<std::mutex> lock(poolMutex_);
    live_[p] = capacity;
    liveBytes_ += capacity * 4;
    peakBytes_ = std::max(peakBytes_, liveBytes_);
    return p;
  }

  void release(float* buffer) override {
    std::lock_guard<std::mutex> lock(poolMutex_);
    auto it = live_.find(buffer);
    if (it == live_.end()) {
      kernels::freeFloats(buffer);
      return;
    }
    const int64_t count = it->second;
    live_.erase(it);
    liveBytes_ -= count * 4;
    free_.emplace(count, buffer);
    cachedBytes_ += count * 4;
    // Keep up to twice the peak in use: one call's distinct buffer sizes (layer outputs, relevance, convolution
    // scratch) add up to more than its peak, and every later call asks for the same ones. dispose() frees it all.
    while (cachedBytes_ > 2 * peakBytes_ && !free_.empty()) {
      auto largest = std::prev(free_.end());
      cachedBytes_ -= largest->first * 4;
      kernels::freeFloats(largest->second);
      free_.erase(largest);
    }
  }
  void upload(float* device, const float* host, int64_t count) override { parallelCopy(device, host, count); }
  void download(float* host, const float* device, int64_t count) override { parallelCopy(host, device, count); }
  void fill(float* buffer, float value, int64_t count) override {
    parallelFor(count, threadsFor(count), [&](int64_t i0, int64_t i1) { std::fill(buffer + i0, buffer + i1, value); });
  }

  // dst = src (or zeros when src is null) over the pool: one thread alone does not saturate the memory bandwidth.
  void parallelCopy(float* dst, const float* src, int64_t count) {
    const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(threads_, count >> 16));  // ≥ 256 KiB a chunk
    parallelFor(chunks, threads_, [&](int64_t c0, int64_t c1) {
      const int64_t begin = count * c0 / chunks, end = count * c1 / chunks;
      if (src) std::memcpy(dst + begin, src + begin, size_t(end - begin) * 4);
      else std::memset(dst + begin, 0, size_t(end - begin) * 4);
    });
  }
  void copy(float* dst, const float* src, int64_t count) override {
    if (dst + count <= src || src + count <= dst) {
      parallelFor(count, threadsFor(count), [&](int64_t i0, int64_t i1) { std::memcpy(dst + i0, src + i0, size_t(i1 - i0) * 4); });
    } else {
      std::memmove(dst, src, size_t(count) * 4);
    }
  }
  void setThreads(int threads) override { threads_ = std::max(1, threads); }  // per calling thread

  // Threads for a memory pass over `work` floats: at least 32 Ki floats each, because waking a thread costs about as
  // much as one pass over that many (small layers at batch 1 run on the calling thread alone).
  int threadsFor(int64_t work) const { return int(std::max<int64_t>(1, std::min<int64_t>(threads_, work >> 15))); }

  void denseForward(int batch, int in, int out, const float* x, const float* weight, const float* bias, float* y,
                    bool accumulate, float sign) override {
    // Split the output features over threads: each computes y[:, j0:j1] = x · W[j0:j1, :]ᵀ.
    const kernels::PackedGemmB* packed = packedDenseWeights(batch, weight, true, in, out);
    parallelFor(columnChunks(packed, out), threads_, [&](int64_t c0, int64_t c1) {
      const auto [j0, j1] = columnsOf(packed, out, c0, c1);
      if (packed) kernels::sgemmPackedB(*packed, j0, j1 - j0, false, batch, sign, x, in, accumulate ? 1.f : 0.f, y + j0, out);
      else sgemm(false, true, batch, j1 - j0, in, sign, x, in, weight + int64_t(j0) * in, in, accumulate ? 1.f : 0.f, y + j0, out);
      if (bias) {
        for (int n = 0; n < batch; ++n)
          for (int j = j0; j < j1; ++j) y[int64_t(n) * out + j] += sign * bias[j];
      }
    });
  }

  // W packed once per weight tensor and orientation as the B of the dense products (forward: op(B) = Wᵀ, in × out;
  // transposed: op(B) = W, out × in) for batches above 4, where sgemm would pack it again on every call (at batch
  // 4 and below it streams W unpacked). Null: the unpacked path. Keyed by address as flippedWeights is.
  const kernels::PackedGemmB* packedDenseWeights(int batch, const float* weight, bool forward, int in, int out) {
    const kernels::GemmMicroKernel* micro = kernels::sgemmMicroKernel();
    if (batch <= 4 || !micro) return nullptr;
    std::lock_guard<std::mutex> lock(weightCacheMutex_);
    kernels::PackedGemmB& packed = packedDense_[std::make_tuple(weight, forward, in, out)];
    if (!packed.micro()) {
      packed = forward ? kernels::PackedGemmB(*micro, true, weight, in, in, out)
                       : kernels::PackedGemmB(*micro, false, weight, in, out, in);
    }
    return &packed;
  }
  // The dense products split their `columns` over threads in chunks: whole panels where B is packed, else columns.
  static int64_t columnChunks(const kernels::PackedGemmB* packed, int columns) {
    return packed ? (columns + packed->micro()->nr - 1) / packed->micro()->nr : columns;
  }
  static std::pair<int, int> columnsOf(const kernels::PackedGemmB* packed, int columns, int64_t c0, int64_t c1) {
    if (!packed) return {int(c0), int(c1)};
    const int nr = packed->micro()->nr;
    return {int(c0) * nr, int(std::min<int64_t>(columns, c1 * nr))};
  }

  void denseTransposed(int batch, int in, int out, const float* s, const float* weight, float* dx) override {
    if (batch <= 4 && out >= 512) {
      // Batches of up to 4 stream W once and do little arithmetic on it. Split by columns, each thread would read a
      // segment of every row of W, which the prefetchers follow at half the bandwidth; split by rows, each reads its
      // rows whole: dx = s[:, :h]·W[:h, :] + s[:, h:]·W[h:, :], always these two halves (the bits do not depend on
      // the thread count), the second into scratch, each half's columns shared by threads beyond two.
      const int half = out / 2;
      Scratch second(*this);
      second.reserve(int64_t(batch) * in);
      const int slices = std::max(1, threads_ / 2);
      parallelFor(2 * slices, threads_, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          const int part = int(t / slices), k0 = part ? half : 0, k1 = part ? out : half;
          const int i0 = int(int64_t(in) * (t % slices) / slices), i1 = int(int64_t(in) * (t % slices + 1) / slices);
          if (i1 > i0)
            sgemm(false, false, batch, i1 - i0, k1 - k0, 1.f, s + k0, out, weight + int64_t(k0) * in + i0, in, 0.f,
                  (part ? second.data() : dx) + i0, in);
        }
      });
      add(dx, second.data(), int64_t(batch) * in);
      return;
    }
    // dx[:, i0:i1] = s · W[:, i0:i1]
    const kernels::PackedGemmB* packed = packedDenseWeights(batch, weight, false, in, out);
    parallelFor(columnChunks(packed, in), threads_, [&](int64_t c0, int64_t c1) {
      const auto [i0, i1] = columnsOf(packed, in, c0, c1);
      if (packed) kernels::sgemmPackedB(*packed, i0, i1 - i0, false, batch, 1.f, s, out, 0.f, dx + i0, in);
      else sgemm(false, false, batch, i1 - i0, out, 1.f, s, out, weight + i0, in, 0.f, dx + i0, in);
    });
  }

  // Convolution as an implicit GEMM over the whole batch (kernels/conv_gemm.h): the threads split the columns
  // (sample, output position) of the virtual im2col matrix, so both stay busy for small feature maps or a batch of one.
  // Grouped convolutions run one GEMM per image and group.
  void convForward(const ConvGeometry& g, int batch, const float* x, const float* weight, const float* bias, float* y,
                   bool accumulate, float sign) override {
    convForwardInto(g, batch, x, weight, bias, y, accumulate, sign, nullptr, nullptr);
  }

  // relu may be y: every path of convForwardRelu writes a value of y before its ReLU copy (the kernels' epilogues, the
  // grouped path's activation in place), and sumForward's sumOfTwo writes max(a + b, 0) alone.
  bool supportsReluInPlace() const override { return true; }

  void convForwardRelu(const ConvGeometry& g, int batch, const float* x, const float* weight, const float* bias,
                       float* y, float* relu) override {
    if (g.groups != 1) return Backend::convForwardRelu(g, batch, x, weight, bias, y, relu);
    convForwardInto(g, batch, x, weight, bias, y, false, 1.f, relu, nullptr);
  }

  // A 1×1 convolution with stride > 1 and no padding (ResNet's downsampling shortcuts) reads every s-th position:
  // it runs as the stride-1 1×1 convolution of that subsample (contiguous panel packing instead of a gather per
  // value), and its transposed product as the stride-1 one scattered back to those positions (no col2im over a
  // col matrix three quarters empty). The same products and sums, in the same order.
  static bool isStridedPointwise(const ConvGeometry& g) {
    return g.groups == 1 && g.kernelHeight == 1 && g.kernelWidth == 1 && (g.strideHeight > 1 || g.strideWidth > 1) &&
           g.padTop == 0 && g.padLeft == 0 && int64_t(g.outHeight - 1) * g.strideHeight < g.inHeight &&
           int64_t(g.outWidth - 1) * g.strideWidth < g.inWidth;
  }

  static ConvGeometry subsampledGeometry(const ConvGeometry& g) {
    ConvGeometry f = g;
    f.inHeight = g.outHeight;
    f.inWidth = g.outWidth;
    f.strideHeight = f.strideWidth = 1;
    f.dilationHeight = f.dilationWidth = 1;
    return f;
  }

  // xs[plane, oh, ow] = x[plane, oh·sh, ow·sw] for every (sample, channel) plane.
  void subsample(const ConvGeometry& g, int batch, const float* x, float* xs) {
    const int64_t planes = int64_t(batch) * g.inChannels, inPlane = int64_t(g.inHeight) * g.inWidth;
    const int64_t outPlane = int64_t(g.outHeight) * g.outWidth;
    parallelFor(planes, threadsFor(planes * outPlane), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        for (int oh = 0; oh < g.outHeight; ++oh) {
          const float* row = x + p * inPlane + int64_t(oh) * g.strideHeight * g.inWidth;
          float* out = xs + p * outPlane + int64_t(oh) * g.outWidth;
          for (int ow = 0; ow < g.outWidth; ++ow) out[ow] = row[int64_t(ow) * g.strideWidth];
        }
    });
  }

  // The inverse placement: dx[plane, oh·sh, ow·sw] = cs[plane, oh, ow], zero at every other position.
  void scatterSubsample(const ConvGeometry& g, int batch, const float* cs, float* dx) {
    const int64_t planes = int64_t(batch) * g.inChannels, inPlane = int64_t(g.inHeight) * g.inWidth;
    const int64_t outPlane = int64_t(g.outHeight) * g.outWidth;
    parallelFor(planes, threadsFor(planes * inPlane), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        float* plane = dx + p * inPlane;
        std::memset(plane, 0, sizeof(float) * size_t(inPlane));
        for (int oh = 0; oh < g.outHeight; ++oh) {
          float* row = plane + int64_t(oh) * g.strideHeight * g.inWidth;
          const float* in = cs + p * outPlane + int64_t(oh) * g.outWidth;
          for (int ow = 0; ow < g.outWidth; ++ow) row[int64_t(ow) * g.strideWidth] = in[ow];
        }
      }
    });
  }

  // g without padding, over an input grown by it: the rows and columns its taps reach, (out − 1)·stride + span.
  static ConvGeometry unpaddedGeometry(const ConvGeometry& g) {
    ConvGeometry u = g;
    u.inHeight = (g.outHeight - 1) * g.strideHeight + (g.kernelHeight - 1) * g.dilationHeight + 1;
    u.inWidth = (g.outWidth - 1) * g.strideWidth + (g.kernelWidth - 1) * g.dilationWidth + 1;
    u.padTop = u.padLeft = 0;
    return u;
  }

  static int64_t inputSample(const ConvGeometry& g) { return int64_t(g.inChannels) * g.inHeight * g.inWidth; }
  static int64_t outputSample(const ConvGeometry& g) { return int64_t(g.outChannels) * g.outHeight * g.outWidth; }

  // convForwardInto of g (padded) over a zero-padded copy of its input, read in place by the direct kernel (`direct`)
  // or the implicit GEMM: copy(u, n0, count, xp, interleaved) writes samples [n0, n0 + count) of that copy in u's
  // (unpadded) layout, channel-interleaved where `interleaved` (kernels/conv_direct.h: what the direct kernel reads
  // fastest, where the channels come in groups of 8). Where the batch holds enough work, each thread takes tasks of
  // about 512 output positions (whole samples) and runs them alone: its samples' copy is made in its own cache and read
  // there at once, and the threads do not meet between the copy and the convolution. A copy of the whole batch first
  // would be out of L3 before the convolution came back to its first samples (38 MB for vgg-cifar's 64-channel layer
  // at batch 128). Any split of the batch gives the same bits. With `sums`, also sumPerSample's sums of y: in the
  // tasks, each sample's right after its convolution, while it is in that core's cache.
  template <class Copy>
  void convOverPaddedCopy(const ConvGeometry& g, int batch, bool direct, const Copy& copy, const float* weight,
                          const float* bias, float* y, bool accumulate, float sign, float* relu, const float* scale,
                          double* sums = nullptr) {
    const ConvGeometry u = unpaddedGeometry(g);
    const bool interleaved = direct && kernels::convDirectInterleaves(groupShape(u));
    auto run = [&](int n0, int count, float* xp) {
      copy(u, n0, count, xp, interleaved);
      const int64_t at = n0 * outputSample(g);
      float* reluAt = relu ? relu + at : nullptr;
      const float* scaleAt = scale ? scale + at : nullptr;
      if (direct) convDirectInto(u, count, xp, weight, bias, y + at, accumulate, sign, reluAt, scaleAt, interleaved);
      else convForwardInto(u, count, xp, weight, bias, y + at, accumulate, sign, reluAt, scaleAt);
    };
    const int64_t sample = int64_t(g.inChannels) * u.inHeight * u.inWidth;
    const int64_t positions = int64_t(g.outHeight) * g.outWidth;
    const int per = int(std::min<int64_t>(batch, std::max<int64_t>(1, (512 + positions - 1) / positions)));
    const int tasks = (batch + per - 1) / per;
    if (threads_ > 1 && tasks >= 4 * threads_) {
      parallelForDynamic(tasks, threads_, tasks, [&](int64_t t0, int64_t t1) {
        const OneThread alone;  // this thread's tasks run on it alone
        Scratch xp(*this);
        xp.reserve(int64_t(per) * sample);
        for (int64_t t = t0; t < t1; ++t) {
          const int n0 = int(t) * per, count = std::min(per, batch - n0);
          run(n0, count, xp.data());
          if (sums)
            for (int n = n0; n < n0 + count; ++n) sums[n] = kernels::sum(y + n * outputSample(g), outputSample(g));
        }
      });
      return;
    }
    Scratch xp(*this);
    xp.reserve(int64_t(batch) * sample);
    run(0, batch, xp.data());
    if (sums) sumPerSample(y, batch, outputSample(g), sums);
  }

  // xp = x placed at (padTop, padLeft) of u's larger planes, zero around it (and cropped where u reaches less far),
  // channel-interleaved where `interleaved`.
  void padCopy(const ConvGeometry& g, const ConvGeometry& u, int batch, const float* x, float* xp, bool interleaved) {
    padRows(g, u, batch, xp, interleaved, [x](int64_t offset, int64_t, float*) { return x + offset; });
  }

  // convOverPaddedCopy's copy for the input x of g: padCopy of its samples.
  auto paddedInput(const ConvGeometry& g, const float* x) {
    return [this, &g, x](const ConvGeometry& u, int n0, int count, float* xp, bool interleaved) {
      padCopy(g, u, count, x + n0 * inputSample(g), xp, interleaved);
    };
  }

  // padCopy of the quotient s = m·r / stab(z) (stabilizedDivide's), computed as it is placed: one pass over r and z
  // instead of writing s and then reading it again for the copy. The same kernel on the same values: the same bits.
  void padQuotient(const ConvGeometry& g, const ConvGeometry& u, int batch, const Quotient& q, float* sp,
                   bool interleaved) {
    padRows(g, u, batch, sp, interleaved, [&q](int64_t offset, int64_t count, float* row) {
      kernels::stabilizedDivide(q.r + offset, q.z + offset, q.mask ? q.mask + offset : nullptr, q.maskSign, q.epsilon,
                                row, count);
      return static_cast<const float*>(row);
    });
  }

  // The layout of padCopy, with the values of each row of x given by rowOf(offset of the row's first value in x,
  // count, room): a pointer to them, either into x or to `room` (count floats) after writing them there. Planar rows
  // offer their place in xp as the room; interleaved ones a row of scratch per channel of the group.
  template <class RowOf>
  void padRows(const ConvGeometry& g, const ConvGeometry& u, int batch, float* xp, bool interleaved, const RowOf& rowOf) {
    const int64_t inPlane = int64_t(g.inHeight) * g.inWidth, outPlane = int64_t(u.inHeight) * u.inWidth;
    const int w0 = std::max(0, g.padLeft), w1 = std::min(u.inWidth, g.padLeft + g.inWidth);
    // Whether u's row h holds values of x, and the offset of its first one in x's plane.
    auto sourceRow = [&](int h, int64_t& offset) {
      const int source = h - g.padTop;
      offset = int64_t(source) * g.inWidth + (w0 - g.padLeft);
      return source >= 0 && source < g.inHeight && w1 > w0;
    };
    if (!interleaved) {
      const int64_t planes = int64_t(batch) * g.inChannels;
      parallelFor(planes, threadsFor(planes * outPlane), [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p)
          for (int h = 0; h < u.inHeight; ++h) {
            float* row = xp + p * outPlane + int64_t(h) * u.inWidth;
            int64_t offset;
            if (!sourceRow(h, offset)) {
              std::memset(row, 0, sizeof(float) * size_t(u.inWidth));
              continue;
            }
            std::memset(row, 0, sizeof(float) * size_t(w0));
            const float* values = rowOf(p * inPlane + offset, w1 - w0, row + w0);
            if (values != row + w0) std::memcpy(row + w0, values, sizeof(float) * size_t(w1 - w0));
            std::memset(row + w1, 0, sizeof(float) * size_t(u.inWidth - w1));
          }
      });
      return;
    }
    constexpr int lanes = kernels::kInterleavedChannels;
    const int64_t groups = int64_t(batch) * (g.inChannels / lanes), width = w1 - w0;
    parallelFor(groups, threadsFor(groups * lanes * outPlane), [&](int64_t p0, int64_t p1) {
      std::vector<float> room(size_t(lanes * std::max<int64_t>(width, 0)));
      const float* rows[lanes];
      for (int64_t p = p0; p < p1; ++p)
        for (int h = 0; h < u.inHeight; ++h) {
          float* row = xp + (p * outPlane + int64_t(h) * u.inWidth) * lanes;
          int64_t offset;
          if (!sourceRow(h, offset)) {
            std::memset(row, 0, sizeof(float) * size_t(u.inWidth) * lanes);
            continue;
          }
          std::memset(row, 0, sizeof(float) * size_t(w0) * lanes);
          for (int c = 0; c < lanes; ++c) rows[c] = rowOf((p * lanes + c) * inPlane + offset, width, room.data() + c * width);
          kernels::interleaveChannelRows(rows, int(width), row + int64_t(w0) * lanes);
          std::memset(row + int64_t(w1) * lanes, 0, sizeof(float) * size_t(u.inWidth - w1) * lanes);
        }
    });
  }

  // convForward, with max(y, 0) also written to `relu` when it is not null, and y multiplied elementwise by `scale`
  // (laid out as y) when that is not null (groups 1 only; scale not with accumulate).
  void convForwardInto(const ConvGeometry& g, int batch, const float* x, const float* weight, const float* bias, float* y,
                       bool accumulate, float sign, float* relu, const float* scale) {
    if (g.groups != 1) return convForwardGrouped(g, batch, x, weight, bias, y, accumulate, sign);
    if (usesRowConvolution(g)) {
      if (!reachesOnlyInput(g)) {
        return convOverPaddedCopy(g, batch, false, paddedInput(g, x), weight, bias, y, accumulate, sign, relu, scale);
      }
      return convRowsInto(g, batch, x, weight, bias, y, accumulate, sign, relu, scale);
    }
    if (usesDirectConvolution(g, batch)) {
      if (!reachesOnlyInput(g)) {
        // The direct kernel reads every tap without bounds checks: a zero-padded copy of the input first.
        return convOverPaddedCopy(g, batch, true, paddedInput(g, x), weight, bias, y, accumulate, sign, relu, scale);
      }
      return convDirectInto(g, batch, x, weight, bias, y, accumulate, sign, relu, scale);
    }
    if (isStridedPointwise(g)) {
      Scratch xs(*this);
      xs.reserve(int64_t(batch) * g.inChannels * g.outHeight * g.outWidth);
      subsample(g, batch, x, xs.data());
      return convForwardInto(subsampledGeometry(g), batch, xs.data(), weight, bias, y, accumulate, sign, relu, scale);
    }
    if (kernels::convGemmPrefersPaddedInput(groupShape(g))) {
      // A zero-padded copy of the input, whose panels the kernel then reads in place, instead of packing each
      // input value once per kernel tap.
      return convOverPaddedCopy(g, batch, false, paddedInput(g, x), weight, bias, y, accumulate, sign, relu, scale);
    }
    const int64_t outSize = int64_t(g.outHeight) * g.outWidth, inSize = int64_t(g.inChannels) * g.inHeight * g.inWidth;
    const int64_t ySize = int64_t(g.outChannels) * outSize;
    const int64_t kk = int64_t(g.inChannels) * g.kernelHeight * g.kernelWidth;
    const kernels::ConvWeightPacking& packing = packedWeights(weight, g.outChannels, int(kk));
    const kernels::ConvGemmProblem problem{groupShape(g), g.outChannels, weight, x,    inSize,    y,
                                           ySize,         bias,          sign,   accumulate, packing.view, relu, scale};
    const int64_t columns = int64_t(batch) * outSize;
    if (columns < g.outChannels && threads_ > 1) {
      // Few columns (a small batch of small feature maps): split the output channels instead, so each thread works
      // on its rows of W (the larger operand here) and all of the few columns. Splits fall on whole tiles.
      forChannelRanges(problem, packing.tileRows, [&](const kernels::ConvGemmProblem& rows, int) {
        kernels::convGemm(rows, 0, columns);
      });
      return;
    }
    // Chunks of whole 32-column panels keep most C tiles inside one sample. A chunk takes about 2 MFLOP at least
    // (~10 µs on one core, several times a thread hand-off: batch 1's 16×16 layers split too). Where there are enough
    // columns, up to four chunks per thread, taken as threads come free so that a slower core does not hold the
    // others up; each chunk then still has 4 panels or more, as every chunk reads all of W again.
    forColumnPieces(columns, 2 * columns * g.outChannels * kk,
                    [&](int64_t begin, int64_t count) { kernels::convGemm(problem, begin, count); });
  }

  // The direct convolution (kernels/conv_direct.h) where it is the faster kernel for g over `batch` images: not for
  // 1×1 convolutions (plain GEMMs at stride 1, the subsample path above it).
  static bool usesDirectConvolution(const ConvGeometry& g, int batch) {
    if (g.groups != 1 || (g.kernelHeight == 1 && g.kernelWidth == 1)) return false;
    return kernels::convDirectSuits(groupShape(g), g.outChannels, batch);
  }

  // The row convolution (kernels/conv_rows.h) for few input or few output channels: the RGB stem and its transposed
  // step. Not for 1×1 convolutions (plain GEMMs).
  static bool usesRowConvolution(const ConvGeometry& g) {
    if (g.groups != 1 || (g.kernelHeight == 1 && g.kernelWidth == 1)) return false;
    return kernels::convRowsSuits(groupShape(g), g.outChannels);
  }

  // convForwardInto with the row kernel, for g whose taps stay inside its input: the threads split the output
  // positions of the whole batch in pieces of 32.
  void convRowsInto(const ConvGeometry& g, int batch, const float* x, const float* weight, const float* bias, float* y,
                    bool accumulate, float sign, float* relu, const float* scale) {
    const int64_t outSize = int64_t(g.outHeight) * g.outWidth, inSize = int64_t(g.inChannels) * g.inHeight * g.inWidth;
    const int depth = g.inChannels * g.kernelHeight * g.kernelWidth;
    const std::vector<float>& byDepth = rowWeights(weight, g.outChannels, depth);
    const kernels::ConvGemmProblem problem{groupShape(g), g.outChannels, weight,     x,  inSize, y, g.outChannels * outSize,
                                           bias,          sign,          accumulate, {}, relu,   scale};
    const int64_t columns = int64_t(batch) * outSize;
    forColumnPieces(columns, 2 * columns * g.outChannels * depth,
                    [&](int64_t begin, int64_t count) { kernels::convRows(problem, byDepth.data(), begin, count); });
  }

  // True where g's taps stay inside its input (no padding on any side): what the direct kernel reads unchecked.
  static bool reachesOnlyInput(const ConvGeometry& g) {
    const ConvGeometry u = unpaddedGeometry(g);
    return g.padTop == 0 && g.padLeft == 0 && u.inHeight <= g.inHeight && u.inWidth <= g.inWidth;
  }

  // convForwardInto with the direct kernel, for g whose taps stay inside its input (x channel-interleaved where
  // `interleaved`): the threads split the output positions of the whole batch, or, where there are fewer positions
  // than output channels (small maps at small batches), the 16-channel panels.
  void convDirectInto(const ConvGeometry& g, int batch, const float* x, const float* weight, const float* bias, float* y,
                      bool accumulate, float sign, float* relu, const float* scale, bool interleaved = false) {
    const int64_t outSize = int64_t(g.outHeight) * g.outWidth, inSize = int64_t(g.inChannels) * g.inHeight * g.inWidth;
    const int64_t ySize = int64_t(g.outChannels) * outSize;
    const int depth = g.inChannels * g.kernelHeight * g.kernelWidth;
    const std::vector<float>& packed = directWeights(weight, g.outChannels, g.inChannels, g.kernelHeight * g.kernelWidth,
                                                     interleaved);
    auto convDirect = interleaved ? kernels::convDirectInterleaved : kernels::convDirect;
    const kernels::ConvGemmProblem problem{groupShape(g), g.outChannels, weight, x,    inSize,    y,
                                           ySize,         bias,          sign,   accumulate, {}, relu, scale};
    const int64_t columns = int64_t(batch) * outSize;
    if (columns < g.outChannels && threads_ > 1 && g.outChannels > kernels::kDirectConvChannels) {
      forChannelRanges(problem, kernels::kDirectConvChannels, [&](const kernels::ConvGemmProblem& rows, int m0) {
        convDirect(rows, packed.data() + int64_t(m0) * depth, 0, columns);  // m0 starts a 16-channel panel
      });
      return;
    }
    forColumnPieces(columns, 2 * columns * g.outChannels * depth,
                    [&](int64_t begin, int64_t count) { convDirect(problem, packed.data(), begin, count); });
  }

  // Few columns (a small batch of small feature maps): the output channels split over the threads in ranges that
  // start at multiples of `tile`, run(problem restricted to channels [m0, m1), m0) for each, so each thread works on
  // its rows of W (the larger operand here) and all of the few columns.
  template <class Run>
  void forChannelRanges(const kernels::ConvGemmProblem& problem, int tile, const Run& run) {
    const int channels = problem.outChannels;
    const int64_t outSize = int64_t(problem.shape.outHeight) * problem.shape.outWidth;
    const int64_t depth = int64_t(problem.shape.channels) * problem.shape.kernelHeight * problem.shape.kernelWidth;
    const int chunks = std::min(threads_, (channels + tile - 1) / tile);
    auto boundary = [&](int64_t c) { return c == chunks ? channels : int(channels * c / chunks) / tile * tile; };
    parallelFor(chunks, chunks, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const int m0 = boundary(c), m1 = boundary(c + 1);
        if (m1 <= m0) continue;
        kernels::ConvGemmProblem rows = problem;
        rows.outChannels = m1 - m0;
        rows.weight = problem.weight + m0 * depth;
        rows.y = problem.y + m0 * outSize;
        if (problem.relu) rows.relu = problem.relu + m0 * outSize;
        if (problem.scale) rows.scale = problem.scale + m0 * outSize;
        if (problem.bias) rows.bias = problem.bias + m0;
        rows.packed.rowOffset = m0;
        run(rows, m0);
      }
    });
  }

  // run(begin, count) over the columns [0, columns) of a convolution of `flops`, the split convForwardInto's kernels
  // share (see there): tasks of whole 32-column pieces taken as threads come free, about 2 MFLOP at least, up to four
  // per thread where each still has 4 pieces or more.
  template <class Run>
  void forColumnPieces(int64_t columns, int64_t flops, const Run& run) {
    const int64_t pieces = (columns + 31) / 32;
    const int64_t byPieces = std::max(std::min<int64_t>(threads_, pieces), std::min<int64_t>(4 * int64_t(threads_), pieces / 4));
    const int64_t tasks = std::max<int64_t>(1, std::min(flops >> 21, byPieces));
    parallelForDynamic(pieces, threads_, tasks, [&](int64_t p0, int64_t p1) {
      const int64_t begin = p0 * 32, end = std::min(columns, p1 * 32);
      run(begin, end - begin);
    });
  }

  void convTransposedTimes(const ConvGeometry& g, int batch, const float* s, const float* weight, const float* in,
                           float* dx) override {
    // The flipped-convolution case of convTransposed below, with the product by `in` in its tiles' epilogue.
    if (in && g.groups == 1 && usesFlippedConvolution(g)) {
      return convForwardInto(flippedGeometry(g), batch, s, flippedWeights(g, weight), nullptr, dx, false, 1.f, nullptr, in);
    }
    if (in && usesCol2im(g)) return convTransposedCol2im(g, batch, s, nullptr, weight, in, dx);
    Backend::convTransposedTimes(g, batch, s, weight, in, dx);
  }

  void convTransposedQuotientTimes(const ConvGeometry& g, int batch, const Quotient& q, const float* weight,
                                   const float* in, float* dx, double* sums) override {
    // convTransposedTimes' flipped convolution reads a zero-padded copy of s: compute s into that copy directly.
    if (in && g.groups == 1 && usesFlippedConvolution(g)) {
      const ConvGeometry flipped = flippedGeometry(g);
      const bool rows = usesRowConvolution(flipped), direct = !rows && usesDirectConvolution(flipped, batch);
      if (direct || rows ? !reachesOnlyInput(flipped)
                         : !isStridedPointwise(flipped) && kernels::convGemmPrefersPaddedInput(groupShape(flipped))) {
        auto quotient = [&](const ConvGeometry& u, int n0, int count, float* sp, bool interleaved) {
          const int64_t from = n0 * inputSample(flipped);
          padQuotient(flipped, u, count,
                      Quotient{q.r + from, q.z + from, q.mask ? q.mask + from : nullptr, q.maskSign, q.epsilon}, sp,
                      interleaved);
        };
        return convOverPaddedCopy(flipped, batch, direct, quotient, flippedWeights(g, weight), nullptr, dx, false, 1.f,
                                  nullptr, in, sums);
      }
    }
    if (in && usesCol2im(g)) {
      convTransposedCol2im(g, batch, nullptr, &q, weight, in, dx);
      if (sums) sumPerSample(dx, batch, inputSample(g), sums);
      return;
    }
    Backend::convTransposedQuotientTimes(g, batch, q, weight, in, dx, sums);
  }

  // True where convTransposed takes its col2im path (not grouped, not a strided 1×1, not the flipped convolution).
  static bool usesCol2im(const ConvGeometry& g) {
    return g.groups == 1 && !isStridedPointwise(g) && !usesFlippedConvolution(g);
  }

  // With stride 1 the transposed convolution is a convolution of s with the kernel flipped and its channel axes
  // swapped: the forward path (no col2im, no zeroing of dx, no gather of s) at the forward pass's speed.
  // Few input channels (the first layer's RGB) only where the row kernel runs it: the flipped GEMM would have that
  // few rows, and packing its outChannels·kh·kw-deep panels would cost more than the col2im it saves.
  static bool usesFlippedConvolution(const ConvGeometry& g) {
    if (g.strideHeight != 1 || g.strideWidth != 1) return false;
    const ConvGeometry flipped = flippedGeometry(g);
    if (flipped.padTop < 0 || flipped.padLeft < 0) return false;
    return g.inChannels >= 16 || usesRowConvolution(flipped);
  }

  void convTransposed(const ConvGeometry& g, int batch, const float* s, const float* weight, float* dx) override {
    if (g.groups != 1) return convTransposedGrouped(g, batch, s, weight, dx);
    if (isStridedPointwise(g)) {
      Scratch cs(*this);
      cs.reserve(int64_t(batch) * g.inChannels * g.outHeight * g.outWidth);
      convTransposed(subsampledGeometry(g), batch, s, weight, cs.data());
      scatterSubsample(g, batch, cs.data(), dx);
      return;
    }
    if (usesFlippedConvolution(g)) {
      return convForward(flippedGeometry(g), batch, s, flippedWeights(g, weight), nullptr, dx, false, 1.f);
    }
    convTransposedCol2im(g, batch, s, nullptr, weight, nullptr, dx);
  }

  // The transposed convolution as Wᵀ·s per chunk of samples scattered back by col2im: dx = conv_transposed(s) (· in
  // when `in` is not null, each sample while it is in cache), s given or, with `q`, computed chunk by chunk as
  // stabilizedDivide's quotient of q where the chunk's s is gathered anyway (no pass of its own over the whole batch:
  // the RGB stem's s is 67 MB at batch 128). The same kernels on the same values as the separate passes: same bits.
  void convTransposedCol2im(const ConvGeometry& g, int batch, const float* s, const Quotient* q, const float* weight,
                            const float* in, float* dx) {
    const kernels::ConvShape gs = groupShape(g);
    const int64_t kk = int64_t(g.inChannels) * g.kernelHeight * g.kernelWidth;
    const int64_t outSize = int64_t(g.outHeight) * g.outWidth, inSize = int64_t(g.inChannels) * g.inHeight * g.inWidth;
    const int64_t sSize = int64_t(g.outChannels) * outSize;
    const bool pointwise = isPointwise(g);
    const int chunk = samplesPerGemm(kk, outSize, batch);
    const int taps = g.kernelHeight * g.kernelWidth;
    const int64_t inPlane = int64_t(g.inHeight) * g.inWidth;
    // The chunk of `count` samples from n0, its steps split over `threads` (1: all on the calling thread).
    auto runChunk = [&](int n0, int count, int threads, Scratch& gathered, Scratch& col) {
      const int64_t width = count * outSize;
      const float* sg = s ? s + n0 * sSize : nullptr;
      if (count > 1 || q) {
        gathered.reserve(g.outChannels * width);
        const int rowThreads = q ? std::min(threads, threadsFor(count * sSize)) : threads;
        parallelFor(int64_t(count) * g.outChannels, rowThreads, [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r) {
            const int64_t k = r / g.outChannels, c = r % g.outChannels, from = (n0 + k) * sSize + c * outSize;
            float* row = gathered.data() + c * width + k * outSize;
            if (q) {
              kernels::stabilizedDivide(q->r + from, q->z + from, q->mask ? q->mask + from : nullptr, q->maskSign,
                                        q->epsilon, row, outSize);
            } else {
              std::memcpy(row, s + from, size_t(outSize) * 4);
            }
          }
        });
        sg = gathered.data();
      }
      // A single pointwise image: the transposed GEMM is already dx.
      const bool direct = pointwise && count == 1;
      float* target = direct ? dx + n0 * inSize : nullptr;
      if (!direct) {
        col.reserve(kk * width);
        target = col.data();
      }
      // dx for input channels [c0, c1) of sample k of the chunk from its rows of col (then · in).
      auto scatter = [&](int64_t k, int c0, int c1) {
        float* dxs = dx + (n0 + k) * inSize + c0 * inPlane;
        const float* factors = in ? in + (n0 + k) * inSize + c0 * inPlane : nullptr;
        if (direct) {
          if (factors) kernels::multiply(dxs, factors, dxs, (c1 - c0) * inPlane);
          return;
        }
        kernels::ConvShape part = gs;
        part.channels = c1 - c0;
        kernels::col2im(part, col.data() + k * outSize + c0 * taps * width, long(width), factors, dxs);
      };
      if (width < kk) {
        // Fewer columns than rows (small maps at batch 1): each thread takes the rows of Wᵀ of a range of input
        // channels, all the columns, and then scatters those channels, so the threads meet once. The product runs as
        // a 1×1 convolution over the columns with Wᵀ packed once per weight tensor, which sgemm would pack on every
        // call (1152 rows of Wᵀ against 16 columns in resnet18-64's last stage: the packing cost as much as the
        // product).
        const TransposedWeights& wt = transposedWeights(weight, g.outChannels, int(kk));
        const kernels::ConvGemmProblem product{
            kernels::ConvShape{g.outChannels, 1, int(width), 1, int(width), 1, 1, 1, 1, 0, 0, 1, 1},
            int(kk), wt.data.empty() ? nullptr : wt.data.data(), sg, 0, target, 0, nullptr, 1.f, false,
            wt.packing.view};
        const int unit = wt.packing.tileRows / std::gcd(wt.packing.tileRows, taps);  // rows start on whole tiles
        const int parts = std::min(threads, (g.inChannels + unit - 1) / unit);
        auto boundary = [&](int64_t p) { return p == parts ? g.inChannels : int(g.inChannels * p / parts) / unit * unit; };
        parallelFor(parts, parts, [&](int64_t p0, int64_t p1) {
          for (int64_t p = p0; p < p1; ++p) {
            const int c0 = boundary(p), c1 = boundary(p + 1);
            if (c1 <= c0) continue;
            kernels::ConvGemmProblem rows = product;
            rows.outChannels = (c1 - c0) * taps;
            if (product.weight) rows.weight = product.weight + int64_t(c0) * taps * g.outChannels;
            rows.y = product.y + int64_t(c0) * taps * width;
            rows.packed.rowOffset = c0 * taps;
            kernels::convGemm(rows, 0, width);
            for (int64_t k = 0; k < count; ++k) scatter(k, c0, c1);
          }
        });
        return;
      }
      parallelFor(width, threads, [&](int64_t c0, int64_t c1) {
        sgemm(true, false, int(kk), int(c1 - c0), g.outChannels, 1.f, weight, int(kk), sg + c0, int(width), 0.f,
              target + c0, int(width));
      });
      // Then the samples' channels over the threads (a single image's channels too).
      parallelFor(int64_t(count) * g.inChannels, threads, [&](int64_t p0, int64_t p1) {
        for (int64_t k = p0 / g.inChannels; k * g.inChannels < p1; ++k) {
          const int64_t first = k * g.inChannels;
          scatter(k, int(std::max(p0 - first, int64_t(0))), int(std::min<int64_t>(p1 - first, g.inChannels)));
        }
      });
    };
    const int chunks = (batch + chunk - 1) / chunk;
    if (threads_ > 1 && chunks >= 2 * threads_) {
      // Enough chunks: each thread takes whole chunks and runs their steps alone, so a chunk's s, col matrix and dx
      // stay in that core's caches between the steps, and the threads meet once instead of three times per chunk
      // (resnet18-64's stem: 128 chunks of one sample). The same calls on the same values: the same bits.
      parallelFor(chunks, threads_, [&](int64_t c0, int64_t c1) {
        Scratch gathered(*this), col(*this);
        for (int64_t c = c0; c < c1; ++c) {
          const int n0 = int(c) * chunk;
          runChunk(n0, std::min(chunk, batch - n0), 1, gathered, col);
        }
      });
      return;
    }
    Scratch gathered(*this), col(*this);
    for (int n0 = 0; n0 < batch; n0 += chunk) runChunk(n0, std::min(chunk, batch - n0), threads_, gathered, col);
  }

  void addChannelBias(int batch, int channels, int inner, const float* bias, float sign, float* y) override {
    parallelFor(batch, threadsFor(int64_t(batch) * channels * inner), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n)
        for (int c = 0; c < channels; ++c) {
          float* yc = y + (n * channels + c) * inner;
          const float b = sign * bias[c];
          for (int k = 0; k < inner; ++k) yc[k] += b;
        }
    });
  }

  void maxPoolForward(const PoolGeometry& g, int batch, const float* x, float* y) override {
    if (undilated(g)) {
      const kernels::PoolWindows p = poolWindows(g);
      const int64_t inSize = int64_t(g.inHeight) * g.inWidth, outSize = int64_t(g.outHeight) * g.outWidth;
      parallelFor(int64_t(batch) * g.channels, threadsFor(int64_t(batch) * g.channels * g.inHeight * g.inWidth), [&](int64_t p0, int64_t p1) {
        for (int64_t q = p0; q < p1; ++q) kernels::maxPoolPlane(p, x + q * inSize, y + q * outSize);
      });
      return;
    }
    forEachPlane(g, batch, [&](const float* xp, float* yp, int oh, int ow) {
      float best = -INFINITY;
      bool any = false;
      forWindow(g, oh, ow, [&](int h, int w) {
        float v = xp[h * g.inWidth + w];
        if (!any || v > best) {
          best = v;
          any = true;
        }
      });
      yp[oh * g.outWidth + ow] = best;
    }, x, y);
  }

  void maxPoolGradient(const PoolGeometry& g, int batch, const float* x, const float* r, float* dx) override {
    const int64_t inSize = int64_t(g.inHeight) * g.inWidth, outSize = int64_t(g.outHeight) * g.outWidth;
    if (undilated(g)) {
      const kernels::PoolWindows p = poolWindows(g);
      parallelFor(int64_t(batch) * g.channels, threadsFor(int64_t(batch) * g.channels * g.inHeight * g.inWidth), [&](int64_t p0, int64_t p1) {
        for (int64_t q = p0; q < p1; ++q) kernels::maxPoolGradientPlane(p, x + q * inSize, r + q * outSize, dx + q * inSize);
      });
      return;
    }
    parallelFor(int64_t(batch) * g.channels, threadsFor(int64_t(batch) * g.channels * g.inHeight * g.inWidth), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const float* xp = x + p * inSize;
        const float* rp = r + p * outSize;
        float* dp = dx + p * inSize;
        std::memset(dp, 0, sizeof(float) * size_t(inSize));
        for (int oh = 0; oh < g.outHeight; ++oh)
          for (int ow = 0; ow < g.outWidth; ++ow) {
            float best = -INFINITY;
            int arg = -1;
            forWindow(g, oh, ow, [&](int h, int w) {
              float v = xp[h * g.inWidth + w];
              if (arg < 0 || v > best) {
                best = v;
                arg = h * g.inWidth + w;
              }
            });
            if (arg >= 0) dp[arg] += rp[oh * g.outWidth + ow];
          }
      }
    });
  }

  // One window over the whole plane (global average pooling): its sum from the vectorised kernel (eight partial
  // sums) instead of one serial chain of double additions per window.
  static bool isGlobal(const PoolGeometry& g) {
    return g.outHeight == 1 && g.outWidth == 1 && g.padTop == 0 && g.padLeft == 0 && g.padBottom == 0 &&
           g.padRight == 0 && g.kernelHeight == g.inHeight && g.kernelWidth == g.inWidth && g.dilationHeight == 1 &&
           g.dilationWidth == 1;
  }

  void avgPoolForward(const PoolGeometry& g, int batch, const float* x, float* y) override {
    if (isGlobal(g)) {
      const int64_t inSize = int64_t(g.inHeight) * g.inWidth, planes = int64_t(batch) * g.channels;
      const double size = divisor(g, 0, 0);
      parallelFor(planes, threadsFor(planes * inSize), [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) y[p] = float(kernels::sum(x + p * inSize, inSize) / size);
      });
      return;
    }
    forEachPlane(g, batch, [&](const float* xp, float* yp, int oh, int ow) {
      double sum = 0;
      forWindow(g, oh, ow, [&](int h, int w) { sum += xp[h * g.inWidth + w]; });
      yp[oh * g.outWidth + ow] = float(sum / divisor(g, oh, ow));
    }, x, y);
  }

  void avgPoolGradient(const PoolGeometry& g, int batch, const float* s, float* dx) override {
    const int64_t inSize = int64_t(g.inHeight) * g.inWidth, outSize = int64_t(g.outHeight) * g.outWidth;
    parallelFor(int64_t(batch) * g.channels, threadsFor(int64_t(batch) * g.channels * g.inHeight * g.inWidth), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const float* sp = s + p * outSize;
        float* dp = dx + p * inSize;
        if (isGlobal(g)) {  // every position gets the one window's share (0 + v, as below)
          std::fill(dp, dp + inSize, float(sp[0] / divisor(g, 0, 0)));
          continue;
        }
        std::memset(dp, 0, sizeof(float) * size_t(inSize));
        for (int oh = 0; oh < g.outHeight; ++oh)
          for (int ow = 0; ow < g.outWidth; ++ow) {
            const float v = float(sp[oh * g.outWidth + ow] / divisor(g, oh, ow));
            forWindow(g, oh, ow, [&](int h, int w) { dp[h * g.inWidth + w] += v; });
          }
      }
    });
  }

  void activationForward(LayerKind kind, float alpha, int approximate, const float* x, float* y, int64_t count) override {
    // One loop per function, so the common ones (ReLU) vectorise.
    parallelFor(count, threadsFor(count), [&](int64_t i0, int64_t i1) {
      switch (kind) {
        case LayerKind::Relu:
          kernels::relu(x + i0, y + i0, i1 - i0);
          break;
        case LayerKind::LeakyRelu:
          for (int64_t i = i0; i < i1; ++i) y[i] = x[i] >= 0.f ? x[i] : alpha * x[i];
          break;
        case LayerKind::Tanh:
          for (int64_t i = i0; i < i1; ++i) y[i] = std::tanh(x[i]);
          break;
        case LayerKind::Sigmoid:
          for (int64_t i = i0; i < i1; ++i) y[i] = 1.f / (1.f + std::exp(-x[i]));
          break;
        case LayerKind::Elu:
          for (int64_t i = i0; i < i1; ++i) y[i] = x[i] > 0.f ? x[i] : alpha * std::expm1(x[i]);
          break;
        case LayerKind::Gelu:
          for (int64_t i = i0; i < i1; ++i) {
            const float v = x[i];
            y[i] = approximate ? 0.5f * v * (1.f + std::tanh(0.7978845608f * (v + 0.044715f * v * v * v)))
                               : float(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))));
          }
          break;
        default:
          std::memcpy(y + i0, x + i0, size_t(i1 - i0) * 4);
      }
    });
  }

  void affineForward(int batch, int channels, int inner, const float* scale, const float* shift, const float* x,
                     float* y) override {
    parallelFor(batch, threadsFor(int64_t(batch) * channels * inner), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n)
        for (int c = 0; c < channels; ++c) {
          const int64_t o = (n * channels + c) * inner;
          for (int k = 0; k < inner; ++k) y[o + k] = x[o + k] * scale[c] + shift[c];
        }
    });
  }

  void inputVariant(InputVariant variant, int batch, int64_t size, const float* x, const float* bound, float scalar,
                    float* out) override {
    parallelFor(batch, threadsFor(int64_t(batch) * size), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        const float* xs = x + n * size;
        float* os = out + n * size;
        switch (variant) {
          case InputVariant::Activation: std::memcpy(os, xs, size_t(size) * 4); break;
          case InputVariant::Positive: for (int64_t i = 0; i < size; ++i) os[i] = xs[i] > 0.f ? xs[i] : 0.f; break;
          case InputVariant::Negative: for (int64_t i = 0; i < size; ++i) os[i] = xs[i] < 0.f ? xs[i] : 0.f; break;
          case InputVariant::Ones: std::fill(os, os + size, 1.f); break;
          case InputVariant::Low:
          case InputVariant::High:
            if (bound) std::memcpy(os, bound, size_t(size) * 4);
            else std::fill(os, os + size, scalar);
            break;
        }
      }
    });
  }

  void stabilizedDivide(const float* r, const float* z, const float* mask, int maskSign, float epsilon, float* s,
                        int64_t count) override {
    parallelFor(count, threadsFor(count), [&](int64_t i0, int64_t i1) {
      kernels::stabilizedDivide(r + i0, z + i0, mask ? mask + i0 : nullptr, maskSign, epsilon, s + i0, i1 - i0);
    });
  }

  void gammaQuotients(int batch, int64_t size, const float* y, const float* q, const float* r, float gamma,
                      float epsilon, float* s) override {
    // Split the flat range [0, batch·size) and cut each chunk at sample boundaries (s is stacked per sample).
    const int64_t count = int64_t(batch) * size;
    parallelFor(count, threadsFor(3 * count), [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1;) {
        const int64_t n = i / size, j = i % size, stop = std::min(i1, (n + 1) * size);
        float* sn = s + n * 2 * size;
        kernels::gammaQuotients(y + i, q + i, r + i, gamma, epsilon, sn + j, sn + size + j, stop - i);
        i = stop;
      }
    });
  }

  void gammaPositiveQuotient(int64_t count, const float* y, const float* q, const float* r, float gamma, float epsilon,
                             float* s) override {
    parallelFor(count, threadsFor(3 * count), [&](int64_t i0, int64_t i1) {
      kernels::gammaPositiveQuotient(y + i0, q + i0, r + i0, gamma, epsilon, s + i0, i1 - i0);
    });
  }

  void multiply(float* dst, const float* a, const float* c, int64_t count) override {
    parallelFor(count, threadsFor(count), [&](int64_t i0, int64_t i1) {
      kernels::multiply(dst + i0, a ? a + i0 : nullptr, c + i0, i1 - i0);
    });
  }

  void quotientTimes(const float* r, const float* z, float epsilon, const float* a, float* out, int64_t count) override {
    parallelFor(count, threadsFor(count), [&](int64_t i0, int64_t i1) {
      kernels::quotientTimes(r + i0, z + i0, epsilon, a + i0, out + i0, i1 - i0);
    });
  }

  void quotientTimesPair(const float* r, const float* z, float epsilon, const float* a0, const float* a1, float* out0,
                         float* out1, int64_t count) override {
    parallelFor(count, threadsFor(2 * count), [&](int64_t i0, int64_t i1) {
      kernels::quotientTimesPair(r + i0, z + i0, epsilon, a0 + i0, a1 + i0, out0 + i0, out1 + i0, i1 - i0);
    });
  }

  void sumForward(const float* a, const float* b, float* y, float* relu, int64_t count) override {
    parallelFor(count, threadsFor(relu ? 2 * count : count), [&](int64_t i0, int64_t i1) {
      kernels::sumOfTwo(a + i0, b + i0, y + i0, relu ? relu + i0 : nullptr, i1 - i0);
    });
  }

  void multiplyAccumulate(float* dst, const float* a, const float* c, float coefficient, int64_t count) override {
    parallelFor(count, threadsFor(count), [&](int64_t i0, int64_t i1) {
      kernels::multiplyAccumulate(dst + i0, a ? a + i0 : nullptr, c + i0, coefficient, i1 - i0);
    });
  }

  void add(float* dst, const float* src, int64_t count) override {
    parallelFor(count, threadsFor(count), [&](int64_t i0, int64_t i1) { kernels::scaledAccumulate(dst + i0, src + i0, 1.f, i1 - i0); });
  }

  void copyBlocks(int64_t rows, int64_t block, const float* src, int64_t srcStride, float* dst, int64_t dstStride,
                  bool accumulate, float alpha) override {
    parallelFor(rows, threadsFor(rows * block), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* s = src + r * srcStride;
        float* d = dst + r * dstStride;
        if (accumulate) kernels::scaledAccumulate(d, s, alpha, block);
        else if (alpha == 1.f) std::memcpy(d, s, size_t(block) * 4);
        else kernels::scaledCopy(d, s, alpha, block);
      }
    });
  }

  void signSummary(const float* x, int64_t count, bool* hasPositive, bool* hasNegative) override {
    const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(threads_, count >> 16));
    std::vector<char> positive(size_t(chunks), 0), negative(size_t(chunks), 0);
    parallelFor(chunks, threads_, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t begin = count * c / chunks, end = count * (c + 1) / chunks;
        bool p = false, n = false;
        kernels::signScan(x + begin, end - begin, &p, &n);
        positive[size_t(c)] = p;
        negative[size_t(c)] = n;
      }
    });
    *hasPositive = std::find(positive.begin(), positive.end(), 1) != positive.end();
    *hasNegative = std::find(negative.begin(), negative.end(), 1) != negative.end();
  }

  void padForward(int batch, int channels, int height, int width, const int padding[4], const float* x, float* y) override {
    const int oh = height + padding[0] + padding[2], ow = width + padding[1] + padding[3];
    for (int64_t p = 0; p < int64_t(batch) * channels; ++p) {
      float* yp = y + p * oh * ow;
      std::memset(yp, 0, sizeof(float) * size_t(oh) * ow);
      for (int h = 0; h < height; ++h)
        std::memcpy(yp + (h + padding[0]) * ow + padding[1], x + (p * height + h) * width, sizeof(float) * size_t(width));
    }
  }

  void padCrop(int batch, int channels, int height, int width, const int padding[4], const float* r, float* dx) override {
    const int oh = height + padding[0] + padding[2], ow = width + padding[1] + padding[3];
    for (int64_t p = 0; p < int64_t(batch) * channels; ++p)
      for (int h = 0; h < height; ++h)
        std::memcpy(dx + (p * height + h) * width, r + p * oh * ow + (h + padding[0]) * ow + padding[1], sizeof(float) * size_t(width));
  }

  void sumPerSample(const float* x, int batch, int64_t size, double* hostOut) override {
    // One sample per task: the sum does not depend on the thread count.
    parallelFor(batch, threadsFor(int64_t(batch) * size), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) hostOut[n] = kernels::sum(x + n * size, size);
    });
  }

 private:
  // Dilation 1: the kernels clip each window once (pool.h); padding is allowed.
  static bool undilated(const PoolGeometry& g) { return g.dilationHeight == 1 && g.dilationWidth == 1; }
  static kernels::PoolWindows poolWindows(const PoolGeometry& g) {
    return kernels::PoolWindows{g.inHeight, g.inWidth, g.outHeight, g.outWidth, g.kernelHeight, g.kernelWidth,
                                g.strideHeight, g.strideWidth, g.padTop, g.padLeft};
  }

  template <typename Fn>
  static void forWindow(const PoolGeometry& g, int oh, int ow, Fn&& fn) {
    for (int i = 0; i < g.kernelHeight; ++i) {
      const int h = oh * g.strideHeight - g.padTop + i * g.dilationHeight;
      if (h < 0 || h >= g.inHeight) continue;
      for (int j = 0; j < g.kernelWidth; ++j) {
        const int w = ow * g.strideWidth - g.padLeft + j * g.dilationWidth;
        if (w >= 0 && w < g.inWidth) fn(h, w);
      }
    }
  }

  // The forward geometry equal to g's stride-1 transposed convolution: s [outC, outH, outW] → dx [inC, inH, inW].
  static ConvGeometry flippedGeometry(const ConvGeometry& g) {
    ConvGeometry f = g;
    f.inChannels = g.outChannels;
    f.inHeight = g.outHeight;
    f.inWidth = g.outWidth;
    f.outChannels = g.inChannels;
    f.outHeight = g.inHeight;
    f.outWidth = g.inWidth;
    f.padTop = g.dilationHeight * (g.kernelHeight - 1) - g.padTop;
    f.padLeft = g.dilationWidth * (g.kernelWidth - 1) - g.padLeft;
    return f;
  }

  // W'[c, o, kh−1−i, kw−1−j] = W[o, c, i, j], made once per weight tensor. Weight buffers live as long as the model
  // that owns this backend, so their address identifies them.
  const float* flippedWeights(const ConvGeometry& g, const float* weight) {
    const int kh = g.kernelHeight, kw = g.kernelWidth, taps = kh * kw;
    const int64_t count = int64_t(g.outChannels) * g.inChannels * taps;
    std::lock_guard<std::mutex> lock(weightCacheMutex_);
    std::vector<float>& w = flipped_[{weight, count}];
    if (w.empty()) {
      w.resize(size_t(count));
      for (int64_t o = 0; o < g.outChannels; ++o)
        for (int64_t c = 0; c < g.inChannels; ++c)
          for (int t = 0; t < taps; ++t) w[size_t((c * g.outChannels + o) * taps + (taps - 1 - t))] = weight[(o * g.inChannels + c) * taps + t];
    }
    return w.data();
  }

  int64_t derivedWeightBytes() override {
    std::lock_guard<std::mutex> lock(weightCacheMutex_);
    int64_t bytes = 0;
    for (const auto& entry : flipped_) bytes += int64_t(entry.second.size()) * 4;
    for (const auto& entry : packed_) bytes += int64_t(entry.second.data.size()) * 4;
    for (const auto& entry : directPacked_) bytes += int64_t(entry.second.size()) * 4;
    for (const auto& entry : byDepth_) bytes += int64_t(entry.second.size()) * 4;
    for (const auto& entry : transposed_)
      bytes += int64_t(entry.second.data.size() + entry.second.packing.data.size()) * 4;
    for (const auto& entry : packedDense_) bytes += int64_t(entry.second.bytes());
    return bytes;
  }

  // Wᵀ [depth, rows] of W [rows, depth] packed for the convolution kernel once per weight tensor (keyed as
  // packedWeights), and kept unpacked only where that kernel does not pack (the portable one): the A operand of the
  // col2im path's product where the columns are few (convTransposedCol2im).
  struct TransposedWeights {
    std::vector<float> data;
    kernels::ConvWeightPacking packing;
  };
  const TransposedWeights& transposedWeights(const float* weight, int rows, int depth) {
    std::lock_guard<std::mutex> lock(weightCacheMutex_);
    const auto key = std::make_tuple(weight, rows, depth);
    auto it = transposed_.find(key);
    if (it == transposed_.end()) {
      TransposedWeights t;
      t.data.resize(size_t(rows) * size_t(depth));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t d = 0; d < depth; ++d) t.data[size_t(d * rows + r)] = weight[r * depth + d];
      t.packing = kernels::packConvWeights(t.data.data(), depth, rows);
      if (!t.packing.data.empty()) std::vector<float>().swap(t.data);  // read only where convGemm does not pack
      it = transposed_.emplace(key, std::move(t)).first;
    }
    return it->second;
  }

  // W packed for the convolution kernel once per weight tensor (see flippedWeights on why the address identifies it).
  const kernels::ConvWeightPacking& packedWeights(const float* weight, int rows, int depth) {
    std::lock_guard<std::mutex> lock(weightCacheMutex_);
    const auto key = std::make_tuple(weight, rows, depth);
    auto it = packed_.find(key);
    if (it == packed_.end()) it = packed_.emplace(key, kernels::packConvWeights(weight, rows, depth)).first;
    return it->second;
  }

  // W [rows, channels·taps] packed for the direct convolution once per weight tensor and layout (keyed as
  // packedWeights, and by the depth's order: planar or channel-interleaved).
  const std::vector<float>& directWeights(const float* weight, int rows, int channels, int taps, bool interleaved) {
    std::lock_guard<std::mutex> lock(weightCacheMutex_);
    const auto key = std::make_tuple(weight, rows, channels * taps, interleaved);
    auto it = directPacked_.find(key);
    if (it == directPacked_.end()) {
      it = directPacked_
               .emplace(key, interleaved ? kernels::packDirectConvWeightsInterleaved(weight, rows, channels, taps)
                                         : kernels::packDirectConvWeights(weight, rows, channels * taps))
               .first;
    }
    return it->second;
  }

  // W [rows, depth] depth-major for the row convolution, once per weight tensor (keyed as packedWeights).
  const std::vector<float>& rowWeights(const float* weight, int rows, int depth) {
    std::lock_guard<std::mutex> lock(weightCacheMutex_);
    const auto key = std::make_tuple(weight, rows, depth);
    auto it = byDepth_.find(key);
    if (it == byDepth_.end()) it = byDepth_.emplace(key, kernels::packRowConvWeights(weight, rows, depth)).first;
    return it->second;
  }

  // Images per convolution GEMM: about 4096 columns, the scratch (im2col) at most 64 MiB.
  static int samplesPerGemm(int64_t kk, int64_t outSize, int batch) {
    int64_t count = std::max<int64_t>(1, 4096 / outSize);
    count = std::min<int64_t>(count, std::max<int64_t>(1, (int64_t(16) << 20) / (kk * outSize)));
    return int(std::min<int64_t>(count, batch));
  }

  void convForwardGrouped(const ConvGeometry& g, int batch, const float* x, const float* weight, const float* bias, float* y,
                          bool accumulate, float sign) {
    const kernels::ConvShape gs = groupShape(g);
    const int inG = g.inChannels / g.groups, outG = g.outChannels / g.groups;
    const int kk = inG * g.kernelHeight * g.kernelWidth;
    const int64_t outSize = int64_t(g.outHeight) * g.outWidth, inSize = int64_t(g.inHeight) * g.inWidth;
    const bool pointwise = isPointwise(g);
    parallelFor(int64_t(batch) * g.groups, threads_, [&](int64_t t0, int64_t t1) {
      std::vector<float> col(pointwise ? 0 : size_t(kk) * outSize);
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t n = t / g.groups, grp = t % g.groups;
        const float* xg = x + (n * g.inChannels + grp * inG) * inSize;
        float* yg = y + (n * g.outChannels + grp * outG) * outSize;
        const float* cols = xg;
        if (!pointwise) {
          kernels::im2col(gs, xg, col.data(), long(outSize));
          cols = col.data();
        }
        sgemm(false, false, outG, int(outSize), kk, sign, weight + grp * outG * kk, kk, cols, int(outSize),
              accumulate ? 1.f : 0.f, yg, int(outSize));
        if (bias) {
          for (int c = 0; c < outG; ++c) {
            const float b = sign * bias[grp * outG + c];
            float* yc = yg + c * outSize;
            for (int64_t k = 0; k < outSize; ++k) yc[k] += b;
          }
        }
      }
    });
  }

  void convTransposedGrouped(const ConvGeometry& g, int batch, const float* s, const float* weight, float* dx) {
    const kernels::ConvShape gs = groupShape(g);
    const int inG = g.inChannels / g.groups, outG = g.outChannels / g.groups;
    const int kk = inG * g.kernelHeight * g.kernelWidth;
    const int64_t outSize = int64_t(g.outHeight) * g.outWidth, inSize = int64_t(g.inHeight) * g.inWidth;
    const bool pointwise = isPointwise(g);
    parallelFor(int64_t(batch) * g.groups, threads_, [&](int64_t t0, int64_t t1) {
      std::vector<float> col(pointwise ? 0 : size_t(kk) * outSize);
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t n = t / g.groups, grp = t % g.groups;
        float* dxg = dx + (n * g.inChannels + grp * inG) * inSize;
        const float* sg = s + (n * g.outChannels + grp * outG) * outSize;
        if (pointwise) {
          sgemm(true, false, kk, int(outSize), outG, 1.f, weight + grp * outG * kk, kk, sg, int(outSize), 0.f, dxg, int(outSize));
          continue;
        }
        sgemm(true, false, kk, int(outSize), outG, 1.f, weight + grp * outG * kk, kk, sg, int(outSize), 0.f, col.data(), int(outSize));
        kernels::col2im(gs, col.data(), long(outSize), nullptr, dxg);
      }
    });
  }

  // torch's divisor: the window clipped to the padded input; without count_include_pad, to the input itself.
  static double divisor(const PoolGeometry& g, int oh, int ow) {
    int hs = oh * g.strideHeight - g.padTop, ws = ow * g.strideWidth - g.padLeft;
    int he = std::min(hs + g.kernelHeight, g.inHeight + g.padBottom);
    int we = std::min(ws + g.kernelWidth, g.inWidth + g.padRight);
    double size = double(he - hs) * (we - ws);
    if (!g.countIncludePad) {
      hs = std::max(hs, 0);
      ws = std::max(ws, 0);
      he = std::min(he, g.inHeight);
      we = std::min(we, g.inWidth);
      size = double(he - hs) * (we - ws);
    }
    return size > 0 ? size : 1.0;
  }

  template <typename Fn>
  void forEachPlane(const PoolGeometry& g, int batch, Fn&& fn, const float* x, float* y) {
    const int64_t inSize = int64_t(g.inHeight) * g.inWidth, outSize = int64_t(g.outHeight) * g.outWidth;
    parallelFor(int64_t(batch) * g.channels, threadsFor(int64_t(batch) * g.channels * g.inHeight * g.inWidth), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        for (int oh = 0; oh < g.outHeight; ++oh)
          for (int ow = 0; ow < g.outWidth; ++ow) fn(x + p * inSize, y + p * outSize, oh, ow);
    });
  }

  // Per calling thread: each explain call runs on its own worker thread and may ask for its own thread count.
  static thread_local int threads_;
  // threads_ = 1 on this thread while it lives (work inside a parallel section that must not split again).
  struct OneThread {
    int outer = threads_;
    OneThread() { threads_ = 1; }
    ~OneThread() { threads_ = outer; }
    OneThread(const OneThread&) = delete;
    OneThread& operator=(const OneThread&) = delete;
  };
  std::mutex poolMutex_, weightCacheMutex_;
  std::map<std::pair<const float*, int64_t>, std::vector<float>> flipped_;  // see flippedWeights
  std::map<std::tuple<const float*, int, int>, kernels::ConvWeightPacking> packed_;  // see packedWeights
  std::map<std::tuple<const float*, int, int, bool>, std::vector<float>> directPacked_;  // see directWeights
  std::map<std::tuple<const float*, int, int>, std::vector<float>> byDepth_;  // see rowWeights
  std::map<std::tuple<const float*, int, int>, TransposedWeights> transposed_;  // see transposedWeights
  std::map<std::tuple<const float*, bool, int, int>, kernels::PackedGemmB> packedDense_;  // see packedDenseWeights
  std::multimap<int64_t, float*> free_;          // recycled buffers by size (floats)
  std::unordered_map<float*, int64_t> live_;     // buffers handed out, with their size
  int64_t liveBytes_ = 0, peakBytes_ = 0, cachedBytes_ = 0;
};

thread_local int CpuBackend::threads_ = 1;

Scratch::~Scratch() {
  if (data_) backend_.release(data_);
}

void Scratch::reserve(int64_t count) {
  if (count <= count_) return;
  if (data_) backend_.release(data_);
  data_ = backend_.allocateUninitialized(count);
  count_ = count;
}

}  // namespace

std::unique_ptr<Backend> makeCpuBackend() { return std::make_unique<CpuBackend>(); }

}  // namespace lrp
