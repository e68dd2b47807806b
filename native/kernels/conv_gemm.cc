// The implicit-GEMM convolution (see conv_gemm.h): the blocked driver's loops with B panels packed from the images
// and C tiles stored into the samples' outputs.
#include "conv_gemm.h"

#include <algorithm>
#include <cstring>

#include "cpu_features.h"
#include "gemm.h"
#include "gemm_blocked.h"

namespace lrp::kernels {

namespace {

constexpr int kMaxTile = 16 * 32;  // the largest MR·NR of any micro-kernel
constexpr int kMaxRows = 32;       // the largest MR

// Write = true asks for the line in a writable state (outputs), false for reading.
template <bool Write>
inline void prefetch(const float* address) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(address, Write, 3);
#else
  (void)address;
#endif
}


int64_t outputPositions(const ConvShape& s) { return int64_t(s.outHeight) * s.outWidth; }

// ConvPanelPlan's rows without SIMD (for micro-kernels without packConv).
void packConvPortable(const ConvPanelPlan& p, int k0, int depth, int nr, float* packed) {
  int c = k0 / p.taps, t = k0 % p.taps;
  for (int k = 0; k < depth; ++k, packed += nr) {
    for (int r = 0; r < p.runs; ++r) {
      const float* src = p.image[r] + int64_t(c) * p.plane + p.source[t * p.runs + r];
      const uint32_t valid = p.valid[t * p.runs + r];
      float* dst = packed + p.offset[r];
      for (int e = 0; e < p.length[r]; ++e) dst[e] = (valid >> e) & 1u ? src[e] : 0.f;
    }
    if (++t == p.taps) {
      t = 0;
      ++c;
    }
  }
}

// Packs columns [col, col + width) and rows [k0, k0 + depth) of the virtual im2col matrix into one NR-wide panel
// (packed[k·NR + j], zero beyond `width`). The columns are split into runs along output rows. With stride 1 each run
// reads a contiguous stretch of an input row: the source of every (tap, run) is worked out once per panel and the
// micro-kernel's packConv copies the rows; other strides gather value by value.
void packConvPanel(const GemmMicroKernel& micro, const ConvGemmProblem& p, int k0, int depth, int64_t col, int width,
                   float* packed) {
  const int nr = micro.nr;
  const ConvShape& s = p.shape;
  const int64_t positions = outputPositions(s), plane = int64_t(s.height) * s.width;
  const int taps = s.kernelHeight * s.kernelWidth;
  ConvPanelPlan plan;
  plan.runs = 0;
  plan.taps = taps;
  plan.kernelWidth = s.kernelWidth;
  plan.plane = plane;
  int h0[32], w0[32];  // per run: input row and column of tap (0, 0) for its first column
  for (int offset = 0; offset < width;) {
    const int64_t sample = (col + offset) / positions, position = (col + offset) % positions;
    const int oh = int(position / s.outWidth), ow = int(position % s.outWidth);
    const int length = std::min(s.outWidth - ow, width - offset);
    const int r = plan.runs++;
    plan.image[r] = p.x + sample * p.xSampleStride;
    plan.offset[r] = offset;
    plan.length[r] = length;
    h0[r] = oh * s.strideHeight - s.padTop;
    w0[r] = ow * s.strideWidth - s.padLeft;
    offset += length;
  }
  if (s.strideWidth == 1) {
    thread_local std::vector<int64_t> source;
    thread_local std::vector<uint32_t> valid;
    source.resize(size_t(taps) * plan.runs);
    valid.resize(size_t(taps) * plan.runs);
    for (int t = 0; t < taps; ++t) {
      const int i = t / s.kernelWidth, j = t % s.kernelWidth;
      for (int r = 0; r < plan.runs; ++r) {
        const size_t at = size_t(t) * plan.runs + r;
        const int h = h0[r] + i * s.dilationHeight, w = w0[r] + j * s.dilationWidth;
        const int begin = std::min(plan.length[r], std::max(0, -w));
        const int end = std::max(begin, std::min(plan.length[r], s.width - w));
        const bool rowInside = h >= 0 && h < s.height;
        source[at] = rowInside ? int64_t(h) * s.width + w : 0;
        valid[at] = rowInside ? uint32_t(((uint64_t(1) << end) - 1) & ~((uint64_t(1) << begin) - 1)) : 0u;
      }
    }
    plan.source = source.data();
    plan.valid = valid.data();
    if (micro.packConv) micro.packConv(plan, k0, depth, packed);
    else packConvPortable(plan, k0, depth, nr, packed);
  } else {
    int c = k0 / taps, t = k0 % taps;
    for (int k = 0; k < depth; ++k) {
      const int i = t / s.kernelWidth, j = t % s.kernelWidth;
      for (int r = 0; r < plan.runs; ++r) {
        float* d = packed + int64_t(k) * nr + plan.offset[r];
        const int h = h0[r] + i * s.dilationHeight;
        if (h < 0 || h >= s.height) {
          for (int e = 0; e < plan.length[r]; ++e) d[e] = 0.f;
          continue;
        }
        const float* row = plan.image[r] + int64_t(c) * plane + int64_t(h) * s.width;
        const int w = w0[r] + j * s.dilationWidth;
        for (int e = 0; e < plan.length[r]; ++e) {
          const int at = w + e * s.strideWidth;
          d[e] = (at >= 0 && at < s.width) ? row[at] : 0.f;
        }
      }
      if (++t == taps) {
        t = 0;
        ++c;
      }
    }
  }
  if (width < nr)
    for (int k = 0; k < depth; ++k)
      for (int e = width; e < nr; ++e) packed[int64_t(k) * nr + e] = 0.f;
}

// Where each half of a panel's columns reads contiguous input (lies in one output row of an unpadded stride-1
// convolution, or in one sample of a 1×1 one), the micro-kernel's kernelAt reads the B rows in place: half h of row k at
// half[h] + offsets[k]. That skips packing, which copies each input value once per kernel tap. Full-width panels only,
// so every in-place tile has the packed tiles' shape (the same bits either way).
struct InPlacePanel {
  const float* half[2];  // null: pack this panel
};

// Whether any panel of this convolution can be read in place: the kernel reads in place, and there is no padding to
// supply (every tap of every output position lies inside the image) and a column stride of 1.
bool readsInPlace(const GemmMicroKernel& micro, const ConvShape& s) {
  return micro.kernelAt && s.padTop == 0 && s.padLeft == 0 && s.strideWidth == 1 &&
         int64_t(s.outHeight - 1) * s.strideHeight + int64_t(s.kernelHeight - 1) * s.dilationHeight < s.height &&
         int64_t(s.outWidth - 1) + int64_t(s.kernelWidth - 1) * s.dilationWidth < s.width;
}

// The panel at `col` of a convolution that readsInPlace: its halves, or nulls where a half spans rows or samples.
InPlacePanel inPlacePanel(const GemmMicroKernel& micro, const ConvGemmProblem& p, int64_t col, int width) {
  const ConvShape& s = p.shape;
  if (width != micro.nr) return {};
  const int64_t positions = outputPositions(s);
  const bool wholePlane = s.kernelHeight == 1 && s.kernelWidth == 1 && s.strideHeight == 1 && s.outWidth == s.width;
  const int length = micro.nr / 2;
  InPlacePanel panel;
  for (int h = 0; h < 2; ++h) {
    const int64_t c = col + h * length, sample = c / positions, position = c % positions;
    const int oh = int(position / s.outWidth), ow = int(position % s.outWidth);
    if (wholePlane ? position + length > positions : ow + length > s.outWidth) return {};
    panel.half[h] = p.x + sample * p.xSampleStride + int64_t(oh) * s.strideHeight * s.width + ow;
  }
  return panel;
}

// offsets[k] for every row k of the virtual im2col matrix: where tap (i, j) of channel c lies relative to the input
// position of a column's tap (0, 0).
void inPlaceOffsets(const ConvShape& s, int depth, std::vector<int64_t>& offsets) {
  const int taps = s.kernelHeight * s.kernelWidth;
  const int64_t plane = int64_t(s.height) * s.width;
  offsets.resize(size_t(depth));
  for (int k = 0; k < depth; ++k) {
    const int c = k / taps, t = k % taps;
    offsets[size_t(k)] = c * plane + int64_t(t / s.kernelWidth) * s.dilationHeight * s.width + int64_t(t % s.kernelWidth) * s.dilationWidth;
  }
}

// Runs the micro-kernel for the C tile at rows [row, row + rows) and columns [col, col + width). A tile inside one
// sample's output is stored in place; one that spans several samples goes through a local tile (same arithmetic).
// With `last` (the last K block), alpha·bias is added to the tile right after the kernel stored it, the tile multiplied
// by `scale` and max(·, 0) written to `relu`, while the tile is still in L1: none costs a pass of its own over memory.
// `b` is the packed B panel, or with `offsets` the first of the panel's halves in the image, `second` the other, for
// micro.kernelAt (see inPlacePanel).
void runTile(const GemmMicroKernel& micro, const ConvGemmProblem& p, int depth, const float* a, const float* b,
             const float* second, const int64_t* offsets, int row, int rows, int64_t col, int width, bool accumulate,
             bool last) {
  auto multiply = [&](float* c, int ldc) {
    if (offsets) micro.kernelAt(depth, a, b, second, offsets, p.alpha, accumulate, c, ldc, rows, width);
    else micro.kernel(depth, a, b, p.alpha, accumulate, c, ldc, rows, width);
  };
  const int64_t positions = outputPositions(p.shape);
  const int64_t sample = col / positions, position = col % positions;
  const bool addBias = last && p.bias;
  auto biasRows = [&](float* c, int64_t ldc) {
    for (int r = 0; r < rows; ++r) {
      float* cr = c + r * ldc;
      const float v = p.alpha * p.bias[row + r];
      for (int e = 0; e < width; ++e) cr[e] += v;
    }
  };
  // c[…] *= scale[…] for `length` values of each row, c with row stride ldc, scale at `factors` (stride positions).
  auto scaleRows = [&](float* c, int64_t ldc, const float* factors, int length) {
    for (int r = 0; r < rows; ++r) {
      float* cr = c + r * ldc;
      const float* f = factors + r * positions;
      for (int e = 0; e < length; ++e) cr[e] *= f[e];
    }
  };
  // relu[…] = max(y[…], 0) for `length` values of each row, y at `c` (row stride ldc), relu at `out` (stride positions).
  auto reluRows = [&](const float* c, int64_t ldc, float* out, int length) {
    for (int r = 0; r < rows; ++r) {
      const float* cr = c + r * ldc;
      float* o = out + r * positions;
      for (int e = 0; e < length; ++e) o[e] = cr[e] > 0.f ? cr[e] : 0.f;
    }
  };
  if (position + width <= positions) {
    float* c = p.y + sample * p.ySampleStride + int64_t(row) * positions + position;
    // The outputs are usually not in cache yet: request their lines now, so the kernel's stores at the end of the
    // tile (after kc steps) do not stall on them; the same for the factors the epilogue reads and the ReLU copy it
    // writes. `first` is the tile's first value in an array laid out as y.
    auto prefetchTile = [&](const float* first, bool write) {
      for (int r = 0; r < rows; ++r) {
        const float* line = first + int64_t(r) * positions;
        if (write) {
          prefetch<true>(line);
          prefetch<true>(line + width - 1);
        } else {
          prefetch<false>(line);
          prefetch<false>(line + width - 1);
        }
      }
    };
    prefetchTile(c, true);
    if (last && p.scale) prefetchTile(p.scale + (c - p.y), false);
    if (last && p.relu) prefetchTile(p.relu + (c - p.y), true);
    const bool fuse = last && (p.bias || p.scale || p.relu) && width == micro.nr &&
                      (offsets ? micro.kernelAtWithEpilogue != nullptr : micro.kernelWithEpilogue != nullptr);
    if (fuse) {
      // The epilogue below in the micro-kernel's registers: each C and ReLU vector stored once.
      float bias[kMaxRows];
      if (addBias)
        for (int r = 0; r < rows; ++r) bias[r] = p.alpha * p.bias[row + r];
      const TileEpilogue epilogue{addBias ? bias : nullptr, p.scale ? p.scale + (c - p.y) : nullptr,
                                  p.relu ? p.relu + (c - p.y) : nullptr};
      if (offsets)
        micro.kernelAtWithEpilogue(depth, a, b, second, offsets, p.alpha, accumulate, c, int(positions), rows, epilogue);
      else
        micro.kernelWithEpilogue(depth, a, b, p.alpha, accumulate, c, int(positions), rows, epilogue);
      return;
    }
    multiply(c, int(positions));
    if (addBias) biasRows(c, positions);
    if (last && p.scale) scaleRows(c, positions, p.scale + (c - p.y), width);
    if (last && p.relu) reluRows(c, positions, p.relu + (c - p.y), width);
    return;
  }
  // Pieces of the tile's columns that lie in one sample each (small feature maps: several samples per tile).
  alignas(64) float tile[kMaxTile];
  struct Piece {
    float* y;  // row `row` of the piece's first column
    int begin, length;
  };
  Piece pieces[32];
  int count = 0;
  for (int e = 0; e < width;) {
    const int64_t s = (col + e) / positions, q = (col + e) % positions;
    const int length = int(std::min<int64_t>(positions - q, width - e));
    pieces[count++] = Piece{p.y + s * p.ySampleStride + int64_t(row) * positions + q, e, length};
    e += length;
  }
  if (accumulate)
    for (int r = 0; r < rows; ++r)
      for (int k = 0; k < count; ++k)
        for (int e = 0; e < pieces[k].length; ++e) tile[r * micro.nr + pieces[k].begin + e] = pieces[k].y[r * positions + e];
  multiply(tile, micro.nr);
  if (addBias) biasRows(tile, micro.nr);
  if (last && p.scale)
    for (int k = 0; k < count; ++k) scaleRows(tile + pieces[k].begin, micro.nr, p.scale + (pieces[k].y - p.y), pieces[k].length);
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < count; ++k)
      for (int e = 0; e < pieces[k].length; ++e) pieces[k].y[r * positions + e] = tile[r * micro.nr + pieces[k].begin + e];
  // After y: relu may be y.
  if (last && p.relu)
    for (int k = 0; k < count; ++k) reluRows(tile + pieces[k].begin, micro.nr, p.relu + (pieces[k].y - p.y), pieces[k].length);
}

void convGemmBlocked(const GemmMicroKernel& micro, const ConvGemmProblem& p, int64_t col0, int64_t cols) {
  const ConvShape& s = p.shape;
  const int M = p.outChannels, K = s.channels * s.kernelHeight * s.kernelWidth;
  if (M <= 0 || cols <= 0) return;
  if (K <= 0 || p.alpha == 0.f) {
    for (int64_t c = col0; c < col0 + cols; ++c) {
      const int64_t positions = outputPositions(s);
      float* y = p.y + (c / positions) * p.ySampleStride + c % positions;
      for (int m = 0; m < M; ++m) {
        const float v = p.bias ? p.alpha * p.bias[m] : 0.f;
        float& target = y[int64_t(m) * positions];
        target = p.accumulate ? target + v : v;
        if (p.scale) target *= p.scale[&target - p.y];
        if (p.relu) p.relu[&target - p.y] = target > 0.f ? target : 0.f;
      }
    }
    return;
  }
  const int MR = micro.mr, NR = micro.nr;
  const int kcBlock = balancedBlock(K, micro.kc, 8);
  const int mcBlock = std::min(roundUp(M, MR), micro.mc);
  const int ncBlock = int(std::min<int64_t>(roundUp(int(std::min<int64_t>(cols, micro.nc)), NR), micro.nc));
  thread_local PackBuffer bufferA, bufferB;
  const bool prepacked = p.packed.data && p.packed.layout == &micro;
  // The A block for rows [row, …) and K block pc: packed now, or where packConvWeights put it.
  auto blockA = [&](int row, int rows, int pc, int kc, float* buffer) -> const float* {
    if (prepacked) return p.packed.data + p.packed.rowStride * pc + int64_t(p.packed.rowOffset + row) * kc;
    packATiles(micro, false, p.weight + int64_t(row) * K + pc, K, rows, kc, buffer);
    return buffer;
  };
  float* packedA = prepacked ? nullptr : bufferA.reserve(static_cast<size_t>(mcBlock) * kcBlock);
  float* packedB = bufferB.reserve(static_cast<size_t>(ncBlock) * kcBlock + 32);  // packConv's overrun
  // With several K blocks, a panel's C tiles are stored after the first and reloaded for each later one. Sweeping
  // the K blocks panel by panel keeps those tiles in L1 instead of reloading them from memory a whole column block
  // later; it reads all of A for every panel, so only where the prepacked A is small enough to stay in L2. Each C
  // element still sums the same K blocks in the same order: the results are the same bits either way.
  const bool panelOuter = prepacked && M <= mcBlock && K > kcBlock && int64_t(M) * K <= (int64_t(192) << 10);
  // Offsets once per call, and only where some panel may use them (not for padded or strided convolutions).
  const bool inPlace = readsInPlace(micro, s);
  thread_local std::vector<int64_t> offsets;
  if (inPlace) inPlaceOffsets(s, K, offsets);
  // The B panel for K block pc of the panel at `col`: read in place where it can be (b = its base, with offsets), else
  // packed into `packed` (b = packed, no offsets).
  struct PanelB {
    const float *b, *second;
    const int64_t* offsets;
  };
  auto panelB = [&](int pc, int kc, int64_t col, int width, float* packed) -> PanelB {
    const InPlacePanel in = inPlace ? inPlacePanel(micro, p, col, width) : InPlacePanel{};
    if (in.half[0]) return {in.half[0], in.half[1], offsets.data() + pc};
    packConvPanel(micro, p, pc, kc, col, width, packed);
    return {packed, nullptr, nullptr};
  };
  for (int64_t jc = 0; jc < cols; jc += ncBlock) {
    const int nc = int(std::min<int64_t>(ncBlock, cols - jc));
    if (panelOuter) {
      for (int jr = 0; jr < nc; jr += NR) {
        const int width = std::min(NR, nc - jr);
        for (int pc = 0; pc < K; pc += kcBlock) {
          const int kc = std::min(kcBlock, K - pc);
          const float* a = blockA(0, M, pc, kc, packedA);
          const PanelB b = panelB(pc, kc, col0 + jc + jr, width, packedB);
          for (int ir = 0, rows; ir < M; ir += rows) {
            rows = tileRowsAt(micro, M - ir);
            runTile(micro, p, kc, a + int64_t(roundUp(ir, MR)) * kc, b.b, b.second, b.offsets, ir, rows, col0 + jc + jr, width,
                    pc > 0 || p.accumulate, pc + kc == K);
          }
        }
      }
      continue;
    }
    for (int pc = 0; pc < K; pc += kcBlock) {
      const int kc = std::min(kcBlock, K - pc);
      const bool accumulate = pc > 0 || p.accumulate;
      if (M <= mcBlock) {
        // As in sgemmBlocked: one A block covers M, so each B panel is packed just before its sweep (stays in L1).
        const float* a = blockA(0, M, pc, kc, packedA);
        for (int jr = 0; jr < nc; jr += NR) {
          const int width = std::min(NR, nc - jr);
          const PanelB b = panelB(pc, kc, col0 + jc + jr, width, packedB);
          for (int ir = 0, rows; ir < M; ir += rows) {
            rows = tileRowsAt(micro, M - ir);
            runTile(micro, p, kc, a + int64_t(roundUp(ir, MR)) * kc, b.b, b.second, b.offsets, ir, rows, col0 + jc + jr, width,
                    accumulate, pc + kc == K);
          }
        }
        continue;
      }
      thread_local std::vector<PanelB> panels;
      panels.clear();
      for (int jr = 0; jr < nc; jr += NR)
        panels.push_back(panelB(pc, kc, col0 + jc + jr, std::min(NR, nc - jr), packedB + int64_t(jr) * kc));
      for (int ic = 0; ic < M; ic += mcBlock) {
        const int mc = std::min(mcBlock, M - ic);
        const float* a = blockA(ic, mc, pc, kc, packedA);
        for (int jr = 0; jr < nc; jr += NR)
          for (int ir = 0, rows; ir < mc; ir += rows) {
            rows = tileRowsAt(micro, mc - ir);
            runTile(micro, p, kc, a + int64_t(roundUp(ir, MR)) * kc, panels[size_t(jr / NR)].b,
                    panels[size_t(jr / NR)].second, panels[size_t(jr / NR)].offsets, ic + ir, rows, col0 + jc + jr,
                    std::min(NR, nc - jr), accumulate, pc + kc == K);
          }
      }
    }
  }
}

// The portable version: im2col of the samples the range touches, sgemmScalar, and a copy into each sample's output.
void convGemmScalar(const ConvGemmProblem& p, int64_t col0, int64_t cols) {
  const ConvShape& s = p.shape;
  const int M = p.outChannels, K = s.channels * s.kernelHeight * s.kernelWidth;
  const int64_t positions = outputPositions(s);
  std::vector<float> col(size_t(K) * size_t(positions)), out(size_t(M) * size_t(positions));
  for (int64_t c = col0; c < col0 + cols;) {
    const int64_t sample = c / positions, first = c % positions;
    const int64_t count = std::min(positions - first, col0 + cols - c);
    im2col(s, p.x + sample * p.xSampleStride, col.data(), long(positions));
    float* y = p.y + sample * p.ySampleStride;
    sgemmScalar(false, false, M, int(count), K, p.alpha, p.weight, K, col.data() + first, int(positions), 0.f, out.data(),
                int(positions));
    for (int m = 0; m < M; ++m) {
      // alpha·bias rounded once, outside the loop: where compilers contract a·b + c into an FMA by default (arm64),
      // a product inside the loop could be fused in the vector body and not in the tail, making bits depend on the
      // split of the columns.
      const float b = p.bias ? p.alpha * p.bias[m] : 0.f;
      for (int64_t e = 0; e < count; ++e) {
        float& target = y[int64_t(m) * positions + first + e];
        const float value = p.bias ? out[size_t(m) * positions + e] + b : out[size_t(m) * positions + e];
        target = p.accumulate ? target + value : value;
        if (p.scale) target *= p.scale[&target - p.y];
        if (p.relu) p.relu[&target - p.y] = target > 0.f ? target : 0.f;
      }
    }
    c += count;
  }
}

#if defined(LRP_HAVE_SGEMM_AVX2)
void convGemmAvx2(const ConvGemmProblem& p, int64_t col0, int64_t cols) { convGemmBlocked(avx2MicroKernel(), p, col0, cols); }
void convGemmAvx512(const ConvGemmProblem& p, int64_t col0, int64_t cols) {
  convGemmBlocked(avx512MicroKernel(), p, col0, cols);
}
#endif
#if defined(LRP_HAVE_SGEMM_NEON)
void convGemmNeon(const ConvGemmProblem& p, int64_t col0, int64_t cols) { convGemmBlocked(neonMicroKernel(), p, col0, cols); }
#endif

std::vector<ConvGemmKernel> detectKernels() {
  std::vector<ConvGemmKernel> kernels{{"scalar", convGemmScalar, nullptr}};
  const CpuFeatures& cpu = cpuFeatures();
  (void)cpu;
#if defined(LRP_HAVE_SGEMM_AVX2)
  if (cpu.avx2Fma) kernels.push_back({"avx2-fma", convGemmAvx2, &avx2MicroKernel()});
  if (cpu.avx512f) kernels.push_back({"avx512f", convGemmAvx512, &avx512MicroKernel()});
#endif
#if defined(LRP_HAVE_SGEMM_NEON)
  if (cpu.neon) kernels.push_back({"neon", convGemmNeon, &neonMicroKernel()});
#endif
  return kernels;
}

}  // namespace

const std::vector<ConvGemmKernel>& availableConvGemmKernels() {
  static const std::vector<ConvGemmKernel> kernels = detectKernels();
  return kernels;
}

ConvWeightPacking packConvWeights(const float* weight, int rows, int depth) {
  ConvWeightPacking packing;
  const auto* micro = static_cast<const GemmMicroKernel*>(availableConvGemmKernels().back().layout);
  if (!micro || rows <= 0 || depth <= 0) return packing;
  // The driver's blocking: K blocks of balancedBlock(depth, KC), each holding every row's panels.
  const int kcBlock = balancedBlock(depth, micro->kc, 8);
  const int64_t rowStride = roundUp(rows, micro->mr);
  packing.data.resize(size_t(rowStride * depth));
  for (int pc = 0; pc < depth; pc += kcBlock)
    packATiles(*micro, false, weight + pc, depth, rows, std::min(kcBlock, depth - pc), packing.data.data() + rowStride * pc);
  packing.view = PackedConvWeights{packing.data.data(), micro, rowStride, 0};
  packing.tileRows = micro->mr;
  return packing;
}

bool convGemmPrefersPaddedInput(const ConvShape& s) {
  const auto* micro = static_cast<const GemmMicroKernel*>(availableConvGemmKernels().back().layout);
  if (!micro || !micro->kernelAt || (s.padTop == 0 && s.padLeft == 0) || s.strideWidth != 1 ||
      s.outWidth % (micro->nr / 2) != 0)
    return false;
  // The copy is a pass over the input and its border: it pays where the border adds at most 1/7 to the map (Zen 3,
  // alternating calls: 32×32 maps 2–10% faster than packed panels at batch 1–4 and ~10% at 128; 16×16 and 8×8 maps,
  // 27% and 56% larger padded, 6–14% slower at batch 1–4 and level from 16 on).
  const int64_t rows = int64_t(s.outHeight - 1) * s.strideHeight + int64_t(s.kernelHeight - 1) * s.dilationHeight + 1;
  const int64_t cols = int64_t(s.outWidth - 1) * s.strideWidth + int64_t(s.kernelWidth - 1) * s.dilationWidth + 1;
  return 7 * rows * cols <= 8 * int64_t(s.height) * s.width;
}

bool convGemmReadsInPlace(const ConvShape& s) {
  const auto* micro = static_cast<const GemmMicroKernel*>(availableConvGemmKernels().back().layout);
  if (!micro || !micro->kernelAt) return false;
  return convGemmPrefersPaddedInput(s) || (readsInPlace(*micro, s) && s.outWidth % (micro->nr / 2) == 0);
}

void convGemm(const ConvGemmProblem& problem, int64_t col0, int64_t cols) {
  static const ConvGemmFunction chosen = availableConvGemmKernels().back().function;
  chosen(problem, col0, cols);
}

}  // namespace lrp::kernels
