// Checks every implicit-GEMM convolution implementation the CPU can run (conv_gemm.h) against a float64 reference on
// random shapes: strides, padding, dilation, 1×1 and large kernels, sizes that are not multiples of the tile or vector
// widths, M and K beyond one cache block, several samples with gaps between them, alpha and accumulate, and that any
// split of the column range gives the same bits, with and without a bias, and with weights packed once (whole or split
// by rows) as without, the factor `scale` and the fused ReLU output; and col2im against col2imAdd and the product. Exit
// status 0 when everything passes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../kernels/conv.h"
#include "../kernels/conv_direct.h"
#include "../kernels/conv_rows.h"
#include "../kernels/conv_gemm.h"
#include "../kernels/cpu_features.h"

using lrp::kernels::ConvGemmKernel;
using lrp::kernels::ConvGemmProblem;
using lrp::kernels::ConvShape;

namespace {

constexpr double kTolerance = 1e-5;  // |y − reference| / Σ|w·x| (+ |y0| when accumulating)
constexpr float kSentinel = 12345.f;
constexpr int kGap = 5;  // floats between samples in x and y, which must stay untouched

struct Case {
  ConvShape shape;
  int outChannels, samples;
  float alpha;
  bool accumulate, bias, relu, scale;  // scale: y multiplied elementwise by factors laid out as y (not with accumulate)
};

std::string describe(const Case& c) {
  const ConvShape& s = c.shape;
  char text[256];
  std::snprintf(text, sizeof text, "C=%d %dx%d → M=%d %dx%d k%dx%d s%dx%d p%d,%d d%dx%d n=%d alpha=%g%s%s%s%s", s.channels, s.height,
                s.width, c.outChannels, s.outHeight, s.outWidth, s.kernelHeight, s.kernelWidth, s.strideHeight,
                s.strideWidth, s.padTop, s.padLeft, s.dilationHeight, s.dilationWidth, c.samples, c.alpha,
                c.accumulate ? " accumulate" : "", c.bias ? " bias" : "", c.relu ? " relu" : "", c.scale ? " scale" : "");
  return text;
}

int outSize(int in, int kernel, int stride, int pad, int dilation) {
  return (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
}

Case randomCase(std::mt19937& rng, int maxChannels, int maxOut) {
  std::uniform_int_distribution<int> channels(1, maxChannels), out(1, maxOut), size(1, 12), kernel(1, 5), stride(1, 3),
      pad(0, 2), dilation(1, 2), samples(1, 4), coin(0, 1);
  for (;;) {
    ConvShape s{};
    s.channels = channels(rng);
    s.height = size(rng);
    s.width = size(rng);
    s.kernelHeight = kernel(rng);
    s.kernelWidth = kernel(rng);
    s.strideHeight = stride(rng);
    s.strideWidth = coin(rng) ? 1 : stride(rng);
    s.padTop = pad(rng);
    s.padLeft = pad(rng);
    s.dilationHeight = dilation(rng);
    s.dilationWidth = dilation(rng);
    s.outHeight = outSize(s.height, s.kernelHeight, s.strideHeight, s.padTop, s.dilationHeight);
    s.outWidth = outSize(s.width, s.kernelWidth, s.strideWidth, s.padLeft, s.dilationWidth);
    if (s.outHeight < 1 || s.outWidth < 1) continue;
    const float alphas[] = {1.f, -1.f, 0.7f};
    Case c{s, out(rng), samples(rng), alphas[rng() % 3], coin(rng) == 1, coin(rng) == 1, coin(rng) == 1, false};
    c.scale = !c.accumulate && coin(rng) == 1;
    return c;
  }
}

Case fixedCase(int channels, int size, int kernel, int stride, int pad, int outChannels, int samples) {
  ConvShape s{channels, size, size, 0, 0, kernel, kernel, stride, stride, pad, pad, 1, 1};
  s.outHeight = s.outWidth = outSize(size, kernel, stride, pad, 1);
  return Case{s, outChannels, samples, 1.f, false, true, true, false};
}

// The three epilogues of one unpadded size v = {channels, size, kernel, stride, outChannels, samples}, added to `cases`:
// fixedCase's (bias, ReLU copy), accumulating with alpha −0.7 and no ReLU copy, and scaled without bias. reshapeAccumulating
// and reshapeScaled may change the last two's shapes (dilation, row stride); a shape left without output is not added.
template <class ReshapeAccumulating, class ReshapeScaled>
void addEpilogueCases(std::vector<Case>& cases, const int (&v)[6], const ReshapeAccumulating& reshapeAccumulating,
                      const ReshapeScaled& reshapeScaled) {
  auto add = [&cases](const Case& c) {
    if (c.shape.outHeight > 0 && c.shape.outWidth > 0) cases.push_back(c);
  };
  Case c = fixedCase(v[0], v[1], v[2], v[3], 0, v[4], v[5]);
  add(c);
  c.accumulate = true;
  c.alpha = -0.7f;
  c.relu = false;
  reshapeAccumulating(c.shape);
  add(c);
  c = fixedCase(v[0], v[1], v[2], v[3], 0, v[4], v[5]);
  c.scale = true;
  c.bias = false;
  reshapeScaled(c.shape);
  add(c);
}

struct Data {
  std::vector<float> weight, bias, x, y0, scale;  // scale laid out as y
  int64_t xStride, yStride, positions;
};

Data makeData(const Case& c, std::mt19937& rng) {
  std::uniform_real_distribution<float> value(-1.f, 1.f);
  const ConvShape& s = c.shape;
  Data d;
  const int64_t K = int64_t(s.channels) * s.kernelHeight * s.kernelWidth;
  d.positions = int64_t(s.outHeight) * s.outWidth;
  d.xStride = int64_t(s.channels) * s.height * s.width + kGap;
  d.yStride = c.outChannels * d.positions + kGap;
  d.weight.resize(size_t(c.outChannels * K));
  for (float& w : d.weight) w = value(rng);
  d.bias.resize(size_t(c.outChannels));
  for (float& b : d.bias) b = value(rng);
  d.x.assign(size_t(d.xStride * c.samples), kSentinel);
  d.y0.assign(size_t(d.yStride * c.samples), kSentinel);
  d.scale.resize(d.y0.size());
  for (float& f : d.scale) f = value(rng);
  for (int n = 0; n < c.samples; ++n) {
    for (int64_t i = 0; i < d.xStride - kGap; ++i) d.x[size_t(n * d.xStride + i)] = value(rng);
    for (int64_t i = 0; i < d.yStride - kGap; ++i) d.y0[size_t(n * d.yStride + i)] = c.accumulate ? value(rng) : NAN;
  }
  return d;
}

// y, followed by the ReLU output when the case asks for one (laid out as y, gaps sentinel).
std::vector<float> run(const ConvGemmKernel& kernel, const Case& c, const Data& d, std::vector<int64_t> splits) {
  std::vector<float> y = d.y0;
  std::vector<float> relu(c.relu ? d.y0.size() : 0, kSentinel);
  const ConvGemmProblem p{c.shape,   c.outChannels, d.weight.data(), d.x.data(),
                          d.xStride, y.data(),      d.yStride,       c.bias ? d.bias.data() : nullptr,
                          c.alpha,   c.accumulate, {},  c.relu ? relu.data() : nullptr, c.scale ? d.scale.data() : nullptr};
  const int64_t columns = c.samples * d.positions;
  splits.insert(splits.begin(), 0);
  splits.push_back(columns);
  for (size_t i = 0; i + 1 < splits.size(); ++i) kernel.function(p, splits[i], splits[i + 1] - splits[i]);
  y.insert(y.end(), relu.begin(), relu.end());
  return y;
}

// The direct kernels: convDirect, convDirectInterleaved and convRows (conv_rows.h).
enum class Direct { Planar, Interleaved, Rows };

// run() with a direct kernel for output channels [m0, m1) (other rows keep y0), its columns split at `splits`;
// Interleaved: x in the channel-interleaved layout (shape.channels a multiple of 8), the weights packed in its order.
std::vector<float> runDirect(const Case& c, const Data& d, std::vector<int64_t> splits, int m0, int m1, Direct kind) {
  const bool interleaved = kind == Direct::Interleaved;
  const ConvShape& s = c.shape;
  const int taps = s.kernelHeight * s.kernelWidth, K = s.channels * taps;
  std::vector<float> x = d.x;  // the gaps between samples keep their sentinels
  if (interleaved) {
    const int64_t plane = int64_t(s.height) * s.width;
    for (int n = 0; n < c.samples; ++n)
      for (int ch = 0; ch < s.channels; ++ch)
        for (int64_t q = 0; q < plane; ++q)
          x[size_t(n * d.xStride + (ch / 8 * plane + q) * 8 + ch % 8)] = d.x[size_t(n * d.xStride + ch * plane + q)];
  }
  std::vector<float> y = d.y0;
  std::vector<float> relu(c.relu ? d.y0.size() : 0, kSentinel);
  const std::vector<float> packed =
      kind == Direct::Rows ? lrp::kernels::packRowConvWeights(d.weight.data() + int64_t(m0) * K, m1 - m0, K)
      : interleaved        ? lrp::kernels::packDirectConvWeightsInterleaved(d.weight.data(), c.outChannels, s.channels, taps)
                           : lrp::kernels::packDirectConvWeights(d.weight.data(), c.outChannels, K);
  const ConvGemmProblem p{s,         m1 - m0,  d.weight.data() + int64_t(m0) * K, x.data(),
                          d.xStride, y.data() + m0 * d.positions, d.yStride, c.bias ? d.bias.data() + m0 : nullptr,
                          c.alpha,   c.accumulate, {}, c.relu ? relu.data() + m0 * d.positions : nullptr,
                          c.scale ? d.scale.data() + m0 * d.positions : nullptr};
  const int64_t columns = c.samples * d.positions;
  splits.insert(splits.begin(), 0);
  splits.push_back(columns);
  for (size_t i = 0; i + 1 < splits.size(); ++i) {
    const float* weights = packed.data() + (kind == Direct::Rows ? 0 : int64_t(m0) * K);
    if (kind == Direct::Rows) lrp::kernels::convRows(p, weights, splits[i], splits[i + 1] - splits[i]);
    else if (interleaved) lrp::kernels::convDirectInterleaved(p, weights, splits[i], splits[i + 1] - splits[i]);
    else lrp::kernels::convDirect(p, weights, splits[i], splits[i + 1] - splits[i]);
  }
  y.insert(y.end(), relu.begin(), relu.end());
  return y;
}

// Rows [m0, m1) only, with the weights prepacked (other rows keep y0).
std::vector<float> runPacked(const ConvGemmKernel& kernel, const Case& c, const Data& d,
                             const lrp::kernels::ConvWeightPacking& packing, int m0, int m1) {
  std::vector<float> y = d.y0;
  std::vector<float> relu(c.relu ? d.y0.size() : 0, kSentinel);
  const int64_t K = int64_t(c.shape.channels) * c.shape.kernelHeight * c.shape.kernelWidth;
  ConvGemmProblem p{c.shape,   m1 - m0,  d.weight.data() + m0 * K, d.x.data(),
                    d.xStride, y.data() + m0 * d.positions, d.yStride, c.bias ? d.bias.data() + m0 : nullptr,
                    c.alpha,   c.accumulate, packing.view, c.relu ? relu.data() + m0 * d.positions : nullptr,
                    c.scale ? d.scale.data() + m0 * d.positions : nullptr};
  p.packed.rowOffset = m0;
  kernel.function(p, 0, c.samples * d.positions);
  y.insert(y.end(), relu.begin(), relu.end());
  return y;
}

// Largest error against float64, or a description of the first failure.
std::string check(const Case& c, const Data& d, const std::vector<float>& y, double& maxError) {
  const ConvShape& s = c.shape;
  for (int n = 0; n < c.samples; ++n) {
    for (int m = 0; m < c.outChannels; ++m)
      for (int oh = 0; oh < s.outHeight; ++oh)
        for (int ow = 0; ow < s.outWidth; ++ow) {
          double sum = 0, magnitude = 0;
          for (int ch = 0; ch < s.channels; ++ch)
            for (int i = 0; i < s.kernelHeight; ++i)
              for (int j = 0; j < s.kernelWidth; ++j) {
                const int h = oh * s.strideHeight - s.padTop + i * s.dilationHeight;
                const int w = ow * s.strideWidth - s.padLeft + j * s.dilationWidth;
                if (h < 0 || h >= s.height || w < 0 || w >= s.width) continue;
                const double term = double(d.weight[size_t(((m * s.channels + ch) * s.kernelHeight + i) * s.kernelWidth + j)]) *
                                    d.x[size_t(n * d.xStride + (int64_t(ch) * s.height + h) * s.width + w)];
                sum += term;
                magnitude += std::fabs(term);
              }
          const size_t at = size_t(n * d.yStride + m * d.positions + oh * s.outWidth + ow);
          if (c.bias) {
            sum += d.bias[size_t(m)];
            magnitude += std::fabs(d.bias[size_t(m)]);
          }
          double reference = c.alpha * sum;
          magnitude *= std::fabs(c.alpha);
          if (c.accumulate) {
            reference += d.y0[at];
            magnitude += std::fabs(d.y0[at]);
          }
          if (c.scale) {
            reference *= d.scale[at];
            magnitude *= std::fabs(d.scale[at]);
          }
          const double error = std::fabs(y[at] - reference) / std::max(magnitude, 1e-30);
          if (!(error <= kTolerance)) return "y[" + std::to_string(at) + "] = " + std::to_string(y[at]) + ", reference " + std::to_string(reference);
          maxError = std::max(maxError, error);
        }
    for (int g = 0; g < kGap; ++g)
      if (y[size_t(n * d.yStride + d.yStride - kGap + g)] != kSentinel) return "wrote into the gap after sample " + std::to_string(n);
  }
  if (c.relu) {
    // The ReLU output: max(y, 0) exactly, and nothing in the gaps.
    const size_t size = d.y0.size();
    for (size_t i = 0; i < size; ++i) {
      const bool gap = int64_t(i) % d.yStride >= d.yStride - kGap;
      const float expected = gap ? kSentinel : (y[i] > 0.f ? y[i] : 0.f);
      if (y[size + i] != expected) return "relu[" + std::to_string(i) + "] = " + std::to_string(y[size + i]) + ", expected " + std::to_string(expected);
    }
  }
  return "";
}

// x += the transpose of im2col, tap by tap in (channel, kernel row, kernel column, output position) order: the plain
// loop col2im replaced.
void col2imAdd(const ConvShape& s, const float* col, long ld, float* x) {
  for (int c = 0, row = 0; c < s.channels; ++c)
    for (int i = 0; i < s.kernelHeight; ++i)
      for (int j = 0; j < s.kernelWidth; ++j, ++row)
        for (int oh = 0; oh < s.outHeight; ++oh)
          for (int ow = 0; ow < s.outWidth; ++ow) {
            const int h = oh * s.strideHeight - s.padTop + i * s.dilationHeight;
            const int w = ow * s.strideWidth - s.padLeft + j * s.dilationWidth;
            if (h >= 0 && h < s.height && w >= 0 && w < s.width)
              x[(int64_t(c) * s.height + h) * s.width + w] += col[int64_t(row) * ld + oh * s.outWidth + ow];
          }
}

// col2im (each value of x written once, times the factors) against col2imAdd onto zeros and then the product, the path
// it replaced: the same bits on every shape, with and without factors, the col rows `ld` apart (several images side
// by side), and x beyond the channels left as it was.
int testCol2im(const std::vector<Case>& cases) {
  int failures = 0;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> value(-1.f, 1.f);
  for (const Case& c : cases) {
    const ConvShape& s = c.shape;
    const int64_t positions = int64_t(s.outHeight) * s.outWidth, plane = int64_t(s.height) * s.width;
    const long ld = long(positions * 2 + 3);
    const int taps = s.kernelHeight * s.kernelWidth;
    std::vector<float> col(size_t(s.channels) * taps * ld), factors(size_t(s.channels * plane));
    for (float& v : col) v = value(rng);
    for (float& v : factors) v = value(rng);
    for (const bool withFactors : {false, true}) {
      std::vector<float> expected(size_t(s.channels * plane + kGap), kSentinel), got(expected);
      std::fill(expected.begin(), expected.begin() + s.channels * plane, 0.f);
      col2imAdd(s, col.data() + 1, ld, expected.data());
      if (withFactors)
        for (int64_t i = 0; i < s.channels * plane; ++i) expected[size_t(i)] = factors[size_t(i)] * expected[size_t(i)];
      lrp::kernels::col2im(s, col.data() + 1, ld, withFactors ? factors.data() : nullptr, got.data());
      bool same = true;
      for (size_t i = 0; i < got.size(); ++i)
        same &= std::memcmp(&got[i], &expected[i], sizeof(float)) == 0;
      if (!same) {
        ++failures;
        std::printf("FAIL col2im %s%s: not the bits of col2imAdd then the product\n", describe(c).c_str(),
                    withFactors ? " with factors" : "");
      }
    }
  }
  if (failures == 0) std::printf("col2im: the bits of col2imAdd and the product over %zu shapes\n", cases.size());
  return failures;
}

}  // namespace

// A direct kernel on `cases`: against float64, and the same bits for any split of the columns and for the output
// channels split at a panel (16). Returns the failures.
int checkDirect(const std::vector<Case>& cases, Direct kind, std::mt19937& rng, const char* label) {
  auto runOne = [kind](const Case& c, const Data& d, std::vector<int64_t> splits, int m0, int m1) {
    return runDirect(c, d, std::move(splits), m0, m1, kind);
  };
  double maxError = 0;
  int failures = 0;
  for (const Case& c : cases) {
    const Data d = makeData(c, rng);
    const std::vector<float> y = runOne(c, d, {}, 0, c.outChannels);
    std::string failure = check(c, d, y, maxError);
    const int64_t columns = c.samples * d.positions;
    if (failure.empty() && columns > 2) {
      const std::vector<int64_t> splits{1, columns / 3 + 1, std::max<int64_t>(columns / 3 + 1, columns - 2)};
      if (runOne(c, d, splits, 0, c.outChannels) != y) failure = "splitting the columns changed bits";
    }
    if (failure.empty() && c.outChannels > 16) {
      std::vector<float> halves = runOne(c, d, {}, 0, 16);
      const std::vector<float> second = runOne(c, d, {}, 16, c.outChannels);
      const size_t parts = c.relu ? 2 : 1, size = d.y0.size();
      for (size_t part = 0; part < parts; ++part)
        for (int n = 0; n < c.samples; ++n)
          for (int64_t i = 16 * d.positions; i < c.outChannels * d.positions; ++i)
            halves[part * size + size_t(n * d.yStride + i)] = second[part * size + size_t(n * d.yStride + i)];
      if (halves != y) failure = "output channels split at a panel changed bits";
    }
    if (!failure.empty()) {
      ++failures;
      std::printf("FAIL %s %s: %s\n", label, describe(c).c_str(), failure.c_str());
    }
  }
  std::printf("%s max error vs float64 %.2e over %zu shapes\n", label, maxError, cases.size());
  return failures;
}

int main() {
  const std::vector<ConvGemmKernel>& kernels = lrp::kernels::availableConvGemmKernels();
  std::printf("convGemm kernels on this CPU:");
  for (const ConvGemmKernel& k : kernels) std::printf(" %s", k.name);
  std::printf("\n");
  std::mt19937 rng(20261128);
  std::vector<Case> cases;
  for (int i = 0; i < 150; ++i) cases.push_back(randomCase(rng, 20, 40));
  // Beyond one cache block: K > KC (256 AVX-512, 384 AVX2), M > MC (240 AVX-512, 144 AVX2), columns > NC.
  cases.push_back(fixedCase(48, 9, 3, 1, 1, 250, 3));
  cases.push_back(fixedCase(64, 8, 3, 1, 1, 130, 70));
  cases.push_back(fixedCase(5, 33, 1, 1, 0, 13, 5));
  cases.push_back(fixedCase(3, 32, 3, 1, 1, 64, 5));
  cases.push_back(fixedCase(16, 7, 3, 2, 1, 24, 9));
  // Filter counts whose last rows are AVX2's 4 + 4 and 4 + 3 row tiles, whole and (prepacked) split on a tile boundary.
  cases.push_back(fixedCase(48, 8, 3, 1, 1, 32, 2));  // K = 432 > KC: the panel-outer order (prepacked)
  cases.push_back(fixedCase(5, 9, 3, 1, 0, 13, 3));
  cases.push_back(fixedCase(7, 12, 1, 1, 0, 152, 2));
  // Unpadded stride-1 maps whose rows hold whole half-panels, which the AVX2 kernel reads in place (kernelAt): two
  // rows, one and two panels per output row, K beyond one block with M beyond MC, dilation, a row stride of 2 with
  // column stride 1, and halves of one panel in two samples (3×8 maps).
  cases.push_back(fixedCase(7, 10, 3, 1, 0, 20, 3));
  cases.push_back(fixedCase(7, 18, 3, 1, 0, 20, 3));
  cases.push_back(fixedCase(9, 34, 3, 1, 0, 13, 2));
  cases.push_back(fixedCase(48, 18, 3, 1, 0, 250, 2));
  // The same with the factor (the transposed convolution's product by the layer input), with and without a bias.
  for (const int bias : {0, 1}) {
    Case c = fixedCase(9, 34, 3, 1, 0, 13, 2);
    c.scale = true;
    c.bias = bias == 1;
    cases.push_back(c);
    c = fixedCase(16, 10, 3, 1, 1, 30, 3);
    c.scale = true;
    c.bias = bias == 1;
    cases.push_back(c);
  }
  {
    Case c = fixedCase(5, 21, 3, 1, 0, 11, 2);
    c.shape.dilationHeight = c.shape.dilationWidth = 2;
    c.shape.outHeight = c.shape.outWidth = outSize(21, 3, 1, 0, 2);
    cases.push_back(c);
    c = fixedCase(6, 19, 3, 1, 0, 12, 3);
    c.shape.strideHeight = 2;
    c.shape.outHeight = outSize(19, 3, 2, 0, 1);
    cases.push_back(c);
    c = fixedCase(4, 10, 3, 1, 0, 9, 3);
    c.shape.height = 5;
    c.shape.outHeight = 3;
    cases.push_back(c);
  }
  int failures = 0;
  for (const ConvGemmKernel& kernel : kernels) {
    double maxError = 0;
    std::mt19937 dataRng(11);
    for (const Case& c : cases) {
      const Data d = makeData(c, dataRng);
      const std::vector<float> y = run(kernel, c, d, {});
      std::string failure = check(c, d, y, maxError);
      const int64_t columns = c.samples * d.positions;
      if (failure.empty() && columns > 2) {
        // Splits at odd points, inside samples and tiles, as the thread pool may cut the range.
        const std::vector<int64_t> splits{1, columns / 3 + 1, std::max<int64_t>(columns / 3 + 1, columns - 2)};
        if (run(kernel, c, d, splits) != y) failure = "splitting the columns changed bits";
      }
      if (failure.empty() && kernel.layout == kernels.back().layout && kernel.layout) {
        // Weights packed once (packConvWeights), whole and as two row ranges split on a tile boundary: same bits.
        const int K = c.shape.channels * c.shape.kernelHeight * c.shape.kernelWidth;
        const lrp::kernels::ConvWeightPacking packing = lrp::kernels::packConvWeights(d.weight.data(), c.outChannels, K);
        if (runPacked(kernel, c, d, packing, 0, c.outChannels) != y) failure = "prepacked weights changed bits";
        const int split = c.outChannels / 2 / packing.tileRows * packing.tileRows;
        if (failure.empty() && split > 0) {
          std::vector<float> halves = runPacked(kernel, c, d, packing, 0, split);
          const std::vector<float> second = runPacked(kernel, c, d, packing, split, c.outChannels);
          const size_t parts = c.relu ? 2 : 1, size = d.y0.size();
          for (size_t part = 0; part < parts; ++part)
            for (int n = 0; n < c.samples; ++n)
              for (int64_t i = int64_t(split) * d.positions; i < c.outChannels * d.positions; ++i)
                halves[part * size + size_t(n * d.yStride + i)] = second[part * size + size_t(n * d.yStride + i)];
          if (halves != y) failure = "prepacked weights split at row " + std::to_string(split) + " changed bits";
        }
      }
      if (!failure.empty()) {
        ++failures;
        std::printf("FAIL %s %s: %s\n", kernel.name, describe(c).c_str(), failure.c_str());
      }
    }
    std::printf("%-9s max error vs float64 %.2e over %zu shapes\n", kernel.name, maxError, cases.size());
  }
  // A padded convolution (packed panels) and the unpadded one over a zero-padded copy of the input (panels read in
  // place where the kernel can): the same bits.
  for (const ConvGemmKernel& kernel : kernels) {
    const int sizes[][4] = {{16, 3, 1, 5}, {32, 3, 1, 3}, {16, 5, 2, 40}, {17, 3, 1, 8}, {32, 1, 0, 7}, {8, 3, 1, 9}, {24, 3, 1, 4}};
    for (const auto& size : sizes) {
      const int width = size[0], k = size[1], pad = size[2], channels = size[3];
      std::mt19937 dataRng(7);
      const Case padded = fixedCase(channels, width, k, 1, pad, 14, 2);
      const Data d = makeData(padded, dataRng);
      Case inPlace = fixedCase(channels, width + 2 * pad, k, 1, 0, 14, 2);
      inPlace.accumulate = padded.accumulate;
      Data e = d;
      const int wide = width + 2 * pad;
      e.xStride = int64_t(channels) * wide * wide;
      e.x.assign(size_t(e.xStride * 2), 0.f);
      for (int n = 0; n < 2; ++n)
        for (int c = 0; c < channels; ++c)
          for (int h = 0; h < width; ++h)
            for (int w = 0; w < width; ++w)
              e.x[size_t(n * e.xStride + (int64_t(c) * wide + h + pad) * wide + w + pad)] =
                  d.x[size_t(n * d.xStride + (int64_t(c) * width + h) * width + w)];
      if (run(kernel, padded, d, {}) != run(kernel, inPlace, e, {})) {
        ++failures;
        std::printf("FAIL %s %s: the padded and the pre-padded convolution differ\n", kernel.name, describe(padded).c_str());
      }
    }
  }
  // The direct convolution on every unpadded shape above and on strided ones like those it is chosen for (channel
  // counts across 16-channel panels, positions not a multiple of its 6-position tile, gaps between samples): against
  // float64, and the same bits for any split of the columns and for the output channels split at a panel.
  {
    std::vector<Case> direct;
    for (const Case& c : cases) {
      // The kernel reads every tap unchecked: only shapes whose taps all stay inside the input (no padding anywhere).
      const ConvShape& s = c.shape;
      const bool inside = int64_t(s.outHeight - 1) * s.strideHeight + int64_t(s.kernelHeight - 1) * s.dilationHeight < s.height &&
                          int64_t(s.outWidth - 1) * s.strideWidth + int64_t(s.kernelWidth - 1) * s.dilationWidth < s.width;
      if (s.padTop == 0 && s.padLeft == 0 && inside) direct.push_back(c);
    }
    const int strided[][6] = {{32, 17, 3, 2, 64, 3}, {13, 9, 3, 2, 33, 2}, {24, 12, 3, 2, 16, 1}, {9, 20, 5, 3, 20, 2},
                              {40, 10, 3, 2, 7, 4}, {64, 9, 3, 2, 130, 2}};
    const auto asItIs = [](ConvShape&) {};
    for (const auto& v : strided) addEpilogueCases(direct, v, asItIs, asItIs);
    std::mt19937 dataRng(13);
    // The interleaved layout's cases: channel counts that are multiples of 8 (one group and several), stride 1 and 2,
    // dilation, maps narrower and wider than a tile, with each epilogue.
    const int interleavedSizes[][6] = {{8, 6, 3, 1, 5, 3}, {16, 18, 3, 1, 20, 2}, {24, 10, 3, 2, 33, 2},
                                       {32, 34, 3, 1, 16, 1}, {64, 9, 3, 1, 40, 4}, {8, 7, 1, 1, 17, 3}};
    const size_t planar = direct.size();
    for (const auto& v : interleavedSizes) {
      const auto dilated = [&v](ConvShape& s) {
        s.dilationHeight = 2;
        s.outHeight = outSize(v[1], v[2], v[3], 0, 2);
      };
      addEpilogueCases(direct, v, dilated, asItIs);
    }
    failures += checkDirect(std::vector<Case>(direct.begin(), direct.begin() + std::ptrdiff_t(planar)), Direct::Planar, dataRng,
                            lrp::kernels::cpuFeatures().avx2Fma ? "direct (avx2-fma)" : "direct (fallback: convGemm)");
    // The channel-interleaved direct convolution, on every case above whose channels come in groups of 8.
    std::vector<Case> grouped;
    for (const Case& c : direct)
      if (lrp::kernels::convDirectInterleaves(c.shape)) grouped.push_back(c);
    std::mt19937 interleavedRng(17);
    failures += checkDirect(grouped, Direct::Interleaved, interleavedRng,
                            lrp::kernels::cpuFeatures().avx2Fma ? "direct interleaved (avx2-fma)" : "direct interleaved (portable)");
    // interleaveChannelRows for widths around its 8-position blocks.
    for (int width = 0; width <= 19; ++width) {
      std::vector<float> rows(size_t(8 * width)), out(size_t(8 * width + 3), kSentinel);
      for (size_t i = 0; i < rows.size(); ++i) rows[i] = float(i) + 0.5f;
      const float* pointers[8];
      for (int c = 0; c < 8; ++c) pointers[c] = rows.data() + c * width;
      lrp::kernels::interleaveChannelRows(pointers, width, out.data());
      bool ok = out[size_t(8 * width)] == kSentinel;
      for (int w = 0; w < width; ++w)
        for (int c = 0; c < 8; ++c) ok = ok && out[size_t(w * 8 + c)] == rows[size_t(c * width + w)];
      if (!ok) {
        ++failures;
        std::printf("FAIL interleaveChannelRows width %d\n", width);
      }
    }
    // The row convolution, on every unpadded case above with stride 1 along the rows, and on shapes like those it is
    // chosen for: RGB stems (27 and 54 deep) and their transposed steps (3, 6 and 9 output channels), rows of 32
    // positions (one tile) and of widths that leave partial vectors (1–7 lanes), 2–6 channels per tile with a
    // remainder, stride 2 down the rows, dilation, with each epilogue.
    std::vector<Case> rows;
    for (const Case& c : direct)
      if (c.shape.strideWidth == 1) rows.push_back(c);
    const int rowSizes[][6] = {{3, 34, 3, 1, 64, 2}, {6, 34, 3, 1, 32, 2}, {64, 34, 3, 1, 3, 2}, {64, 10, 3, 1, 6, 3},
                               {18, 21, 3, 1, 9, 2}, {5, 15, 3, 1, 13, 3}, {2, 42, 5, 1, 7, 2}, {16, 11, 3, 1, 8, 4},
                               {1, 9, 2, 1, 1, 3}, {4, 27, 3, 1, 11, 1}};
    for (const auto& v : rowSizes) {
      const auto dilated = [&v](ConvShape& s) {
        s.dilationHeight = s.dilationWidth = 2;
        s.outHeight = s.outWidth = outSize(v[1], v[2], 1, 0, 2);
      };
      const auto rowStrideTwo = [&v](ConvShape& s) {
        s.strideHeight = 2;
        s.outHeight = outSize(v[1], v[2], 2, 0, 1);
      };
      addEpilogueCases(rows, v, dilated, rowStrideTwo);
    }
    std::mt19937 rowsRng(19);
    failures += checkDirect(rows, Direct::Rows, rowsRng,
                            lrp::kernels::cpuFeatures().avx2Fma ? "rows (avx2-fma)" : "rows (portable)");
  }
  failures += testCol2im(cases);
  std::printf("%zu shapes × %zu kernels: %s\n", cases.size(), kernels.size(), failures ? "FAILED" : "all passed");
  return failures ? 1 : 0;
}
