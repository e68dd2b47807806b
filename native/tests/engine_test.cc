// The engine tested without Node: every model.json golden of test/fixtures/refs on the CPU backend (and on CUDA when
// built with it and a GPU is present), CUDA against CPU on random plans, and --bench: vgg-cifar / resnet18-64 shaped
// random-weight plans at batch 128 and 1024, CPU against CUDA. Exit status 0 when every check passes.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../engine/backend.h"
#include "../engine/error.h"
#include "../engine/executor.h"
#include "../engine/model.h"
#include "../engine/relu_gated.h"
#include "../engine/thread_pool.h"
#include "test_plans.h"

#ifndef LRP_REFS_DIR
#define LRP_REFS_DIR "test/fixtures/refs"
#endif

namespace {

using namespace lrp;
using namespace lrp::test;

struct Options {
  std::string refs = LRP_REFS_DIR;
  bool bench = false;
  bool requireCuda = false;  // fail (instead of skipping) when the CUDA backend cannot run
  std::string out;           // bench report (markdown)
  int threads = std::max(1u, std::thread::hardware_concurrency());
  double benchSeconds = 200;  // CPU runs that would not fit in what is left of this are skipped
  std::vector<int> batches{128, 1024};
};

enum class Device { Cpu, Cuda };

std::unique_ptr<Backend> makeBackend(Device device) {
  if (device == Device::Cpu) return makeCpuBackend();
#ifdef LRP_WITH_CUDA
  return makeCudaBackend(0);
#else
  throw Error("E_DEVICE", "lrp-node was built without CUDA; rebuild with npm run build:cuda");
#endif
}

// Whether the CUDA backend can run here; `why` says what is missing when it cannot.
bool cudaAvailable(std::string* why) {
  try {
    std::unique_ptr<Backend> backend = makeBackend(Device::Cuda);
    *why = backend->name();
    return true;
  } catch (const Error& error) {
    *why = std::string(error.code()) + ": " + error.what();
    return false;
  }
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Result {
  std::vector<float> relevance, logits;
  std::vector<int32_t> targets;
  double seconds = 0;
};

Result explainBatch(Model& model, const std::vector<float>& input, int batch, const std::vector<RuleParams>& rules,
                    const std::vector<int32_t>* targets, int threads) {
  const Plan& plan = model.plan();
  const int64_t inSize = shapeSize(plan.inputShape), outSize = shapeSize(plan.layers.back().outputShape);
  Result result;
  result.relevance.assign(size_t(batch * inSize), 0.f);
  result.logits.assign(size_t(batch * outSize), 0.f);
  result.targets.assign(size_t(batch), -1);
  std::vector<double> sums(size_t(batch) * plan.layers.size() * 2);
  ExplainRequest request;
  request.input = input.data();
  request.batch = batch;
  request.rules = rules;
  request.threads = threads;
  if (targets) {
    request.targetMode = TargetMode::Indices;
    request.targets = *targets;
  }
  request.relevance = result.relevance.data();
  request.logits = result.logits.data();
  request.targetsOut = result.targets.data();
  request.layerSums = sums.data();
  const double start = now();
  explain(model, request);
  result.seconds = now() - start;
  return result;
}

// max over samples of max|R − R_ref| / max|R_ref| (shared/refs/README.md), R_ref given as doubles.
double relativeError(const float* r, const double* reference, int batch, int64_t size) {
  double worst = 0;
  for (int n = 0; n < batch; ++n) {
    double diff = 0, scale = 0;
    for (int64_t i = 0; i < size; ++i) {
      const double a = r[n * size + i], b = reference[n * size + i];
      if (!std::isfinite(a)) return INFINITY;
      diff = std::max(diff, std::fabs(a - b));
      scale = std::max(scale, std::fabs(b));
    }
    worst = std::max(worst, scale > 0 ? diff / scale : diff);
  }
  return worst;
}

double relativeError(const std::vector<float>& r, const std::vector<float>& reference, int batch) {
  std::vector<double> wide(reference.begin(), reference.end());
  return relativeError(r.data(), wide.data(), batch, int64_t(r.size()) / batch);
}

// Every sequential golden case, every composite, against the zennit relevance with the case's tolerance.
int testGoldens(const Options& options, bool cuda) {
  const Json cases = readJson(options.refs + "/cases.json");
  int failures = 0, checks = 0;
  for (const Json& entry : cases.array) {
    const std::string name = entry["name"].str();
    if (entry["sequential"].isNull()) {
      std::printf("golden %-11s skipped: no model.json (residual model; its golden is checked through the ONNX loader)\n", name.c_str());
      continue;
    }
    const Plan plan = loadSequentialModel(options.refs + "/" + name);
    const NpyArray input = readNpy(options.refs + "/" + entry["input"].str());
    const NpyArray target = readNpy(options.refs + "/" + entry["target"].str());
    const int batch = int(input.shape[0]);
    const int64_t inSize = input.size() / batch;
    const std::vector<float> x = input.toFloat();
    std::vector<int32_t> targets(target.values.begin(), target.values.end());
    Model cpuModel(plan, makeBackend(Device::Cpu));
    std::unique_ptr<Model> cudaModel;
    if (cuda) cudaModel = std::make_unique<Model>(plan, makeBackend(Device::Cuda));
    for (const Json& attribution : entry["attributions"].array) {
      const std::string composite = attribution["composite"].str();
      const double tolerance = attribution["tolerance"].num();
      const std::vector<RuleParams> rules = compositeRules(plan, composite, CompositeParams::fromJson(attribution["params"]));
      const NpyArray golden = readNpy(options.refs + "/" + attribution["relevance"].str());
      const Result cpu = explainBatch(cpuModel, x, batch, rules, &targets, options.threads);
      const double cpuError = relativeError(cpu.relevance.data(), golden.values.data(), batch, inSize);
      bool ok = cpuError <= tolerance;
      ++checks;
      std::printf("golden %-11s %-21s cpu %.3e", name.c_str(), composite.c_str(), cpuError);
      if (cudaModel) {
        const Result gpu = explainBatch(*cudaModel, x, batch, rules, &targets, options.threads);
        const double gpuError = relativeError(gpu.relevance.data(), golden.values.data(), batch, inSize);
        const double gpuVsCpu = relativeError(gpu.relevance, cpu.relevance, batch);
        std::printf("  cuda %.3e  cuda-vs-cpu %.3e", gpuError, gpuVsCpu);
        ok = ok && gpuError <= tolerance && gpuVsCpu <= tolerance;
        checks += 2;
      }
      std::printf("  (tolerance %.3e) %s\n", tolerance, ok ? "ok" : "FAIL");
      if (!ok) ++failures;
    }
  }
  std::printf("golden: %d checks, %d failing composites\n", checks, failures);
  return failures;
}

// A plan that touches every layer kind and geometry the backends implement: BatchNorm unmerged, grouped/strided/
// dilated conv, padding, average pool with ceil mode and count_include_pad false, concat, max pool with overlapping
// windows, residual add, global average pool, every activation.
Plan operationsPlan() {
  PlanBuilder b({4, 13, 11}, 7);
  int x = b.conv(-1, 8, 3, 1, 1);
  x = b.batchNorm(x);
  x = b.unary(LayerKind::LeakyRelu, x, 0.1f);
  x = b.conv(x, 8, 3, 2, 2, 2, 2);
  x = b.unary(LayerKind::Elu, x, 1.f);
  x = b.pad(x, {1, 0, 2, 1});
  x = b.pool(LayerKind::AvgPool2d, x, 3, 2, 1, true, false);
  int left = b.unary(LayerKind::Gelu, b.conv(x, 6, 1, 1, 0));
  int right = b.unary(LayerKind::Sigmoid, b.conv(x, 6, 3, 1, 1, 1, 1, false));
  int joined = b.concat({left, right});
  int pooled = b.pool(LayerKind::MaxPool2d, joined, 3, 1, 1, true);
  int branch = b.unary(LayerKind::Tanh, b.conv(pooled, 12, 3, 1, 1));
  int sum = b.add({branch, pooled});
  x = b.unary(LayerKind::Gelu, sum, 0.f, 1);
  x = b.pool(LayerKind::AvgPool2d, x, 2, 1, 0);
  x = b.globalAvgPool(x);
  x = b.flatten(x);
  x = b.dense(x, 16);
  x = b.unary(LayerKind::Relu, x);
  b.dense(x, 7);
  return b.plan();
}

// vgg-cifar of shared/bench: 6 convs 3×3 (64-64-128-128-256-256), 3 max-pools, dense 4096→512→10.
Plan vggCifarPlan() {
  PlanBuilder b({3, 32, 32}, 11);
  int x = -1;
  const int widths[3] = {64, 128, 256};
  for (int stage = 0; stage < 3; ++stage) {
    x = b.unary(LayerKind::Relu, b.conv(x, widths[stage], 3, 1, 1));
    x = b.unary(LayerKind::Relu, b.conv(x, widths[stage], 3, 1, 1));
    x = b.pool(LayerKind::MaxPool2d, x, 2, 2, 0);
  }
  x = b.flatten(x);
  x = b.unary(LayerKind::Relu, b.dense(x, 512));
  b.dense(x, 10);
  return b.plan();
}

// resnet18-64 of shared/bench: stem conv 3×3 (32) + max-pool 3×3/2, 8 basic blocks 32-64-128-256 with 1×1 stride-2
// projection shortcuts, BatchNorm fused (convs with bias), global average pool, dense 256→100.
Plan resnet18Plan() {
  PlanBuilder b({3, 64, 64}, 13);
  int x = b.unary(LayerKind::Relu, b.conv(-1, 32, 3, 1, 1));
  x = b.pool(LayerKind::MaxPool2d, x, 3, 2, 1);
  const int widths[4] = {32, 64, 128, 256};
  for (int stage = 0; stage < 4; ++stage) {
    for (int block = 0; block < 2; ++block) {
      const int stride = stage > 0 && block == 0 ? 2 : 1;
      int h = b.unary(LayerKind::Relu, b.conv(x, widths[stage], 3, stride, 1));
      h = b.conv(h, widths[stage], 3, 1, 1);
      const int shortcut = stride == 2 ? b.conv(x, widths[stage], 1, 2, 0) : x;
      x = b.unary(LayerKind::Relu, b.add({h, shortcut}));
    }
  }
  x = b.flatten(b.globalAvgPool(x));
  b.dense(x, 100);
  return b.plan();
}

std::vector<float> randomInput(const Plan& plan, int batch, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-1.f, 1.f);
  std::vector<float> x(size_t(batch * shapeSize(plan.inputShape)));
  for (float& v : x) v = value(rng);
  return x;
}

const char* const kAllComposites[] = {"epsilon", "epsilon-plus", "epsilon-alpha2-beta1", "epsilon-plus-flat", "epsilon-gamma-box",
                                      "zplus", "gamma", "alpha-beta", "wsquare-epsilon"};

// CUDA against CPU on random plans, every composite, plus zBox with per-element bounds.
int testCudaAgainstCpu(const Options& options) {
  struct Case {
    const char* name;
    Plan plan;
    int batch;
  };
  Case cases[] = {{"operations", operationsPlan(), 5}, {"vgg-cifar", vggCifarPlan(), 3}, {"resnet18-64", resnet18Plan(), 2}};
  constexpr double kTolerance = 1e-3;
  int failures = 0;
  for (Case& c : cases) {
    Model cpuModel(c.plan, makeBackend(Device::Cpu));
    Model cudaModel(c.plan, makeBackend(Device::Cuda));
    const std::vector<float> x = randomInput(c.plan, c.batch, 5);
    std::vector<std::string> composites(std::begin(kAllComposites), std::end(kAllComposites));
    composites.push_back("epsilon-gamma-box/tensor-bounds");
    for (const std::string& name : composites) {
      const bool tensorBounds = name.find('/') != std::string::npos;
      std::vector<RuleParams> rules = compositeRules(c.plan, name.substr(0, name.find('/')), CompositeParams{});
      if (tensorBounds) {
        for (RuleParams& r : rules) {
          if (r.kind != RuleKind::ZBox) continue;
          const int64_t size = shapeSize(c.plan.inputShape);
          for (int64_t i = 0; i < size; ++i) {
            r.lowTensor.push_back(-1.f - 0.001f * float(i % 7));
            r.highTensor.push_back(1.f + 0.002f * float(i % 5));
          }
        }
      }
      const Result cpu = explainBatch(cpuModel, x, c.batch, rules, nullptr, options.threads);
      const Result gpu = explainBatch(cudaModel, x, c.batch, rules, nullptr, options.threads);
      const double relevanceError = relativeError(gpu.relevance, cpu.relevance, c.batch);
      const double logitError = relativeError(gpu.logits, cpu.logits, c.batch);
      const bool ok = relevanceError <= kTolerance && logitError <= 1e-4 && gpu.targets == cpu.targets;
      std::printf("cuda-vs-cpu %-12s %-32s relevance %.3e logits %.3e %s\n", c.name, name.c_str(), relevanceError, logitError,
                  ok ? "ok" : "FAIL");
      if (!ok) ++failures;
    }
  }
  std::printf("cuda-vs-cpu: %d failing\n", failures);
  return failures;
}

// A backend's fused γ quotients against the generic composition (Backend::gammaQuotients) on odd sizes, with zeros
// in R and y and q ≥ 0 as after a ReLU (so neither denominator cancels and a relative tolerance is meaningful).
int testGammaQuotients(Device device) {
  std::unique_ptr<Backend> backend = makeBackend(device);
  std::mt19937 rng(99);
  std::uniform_real_distribution<float> value(-1.f, 1.f), positive(0.f, 2.f);
  int failures = 0;
  for (const auto& [batch, size] : std::vector<std::pair<int, int64_t>>{{1, 1}, {1, 37}, {3, 1000}, {5, 4099}}) {
    const int64_t count = batch * size;
    std::vector<float> y(count), q(count), r(count);
    for (int64_t i = 0; i < count; ++i) {
      y[i] = i % 11 == 0 ? 0.f : value(rng);
      q[i] = i % 13 == 0 ? 0.f : positive(rng);
      r[i] = i % 7 == 0 ? 0.f : value(rng);
    }
    Buffer yb(*backend, count), qb(*backend, count), rb(*backend, count), fused(*backend, 2 * count), generic(*backend, 2 * count);
    backend->upload(yb.data(), y.data(), count);
    backend->upload(qb.data(), q.data(), count);
    backend->upload(rb.data(), r.data(), count);
    backend->gammaQuotients(batch, size, yb.data(), qb.data(), rb.data(), 0.25f, 1e-6f, fused.data());
    backend->Backend::gammaQuotients(batch, size, yb.data(), qb.data(), rb.data(), 0.25f, 1e-6f, generic.data());
    std::vector<float> a(2 * count), b(2 * count);
    backend->download(a.data(), fused.data(), 2 * count);
    backend->download(b.data(), generic.data(), 2 * count);
    for (int64_t i = 0; i < 2 * count; ++i) {
      if (!(std::fabs(a[i] - b[i]) <= 1e-6f * std::max(1.f, std::fabs(b[i])))) {
        std::printf("FAIL gammaQuotients (%s) batch %d size %ld: element %ld is %g, the generic composition gives %g\n",
                    backend->name(), batch, long(size), long(i), a[i], b[i]);
        ++failures;
        break;
      }
    }
    // s₁ alone: the backend's and the generic composition's, each equal to gammaQuotients' s₁ of every sample.
    Buffer positive(*backend, count), positiveGeneric(*backend, count);
    backend->gammaPositiveQuotient(count, yb.data(), qb.data(), rb.data(), 0.25f, 1e-6f, positive.data());
    backend->Backend::gammaPositiveQuotient(count, yb.data(), qb.data(), rb.data(), 0.25f, 1e-6f, positiveGeneric.data());
    std::vector<float> p(count), pg(count);
    backend->download(p.data(), positive.data(), count);
    backend->download(pg.data(), positiveGeneric.data(), count);
    for (int64_t i = 0; i < count; ++i) {
      const float s1 = a[(i / size) * 2 * size + i % size];
      if (!(std::fabs(p[i] - s1) <= 1e-6f * std::max(1.f, std::fabs(s1))) || !(std::fabs(pg[i] - s1) <= 1e-6f * std::max(1.f, std::fabs(s1)))) {
        std::printf("FAIL gammaPositiveQuotient (%s) batch %d size %ld: element %ld is %g (generic %g), s₁ is %g\n",
                    backend->name(), batch, long(size), long(i), p[i], pg[i], s1);
        ++failures;
        break;
      }
    }
  }
  if (failures == 0) std::printf("ok    gammaQuotients and gammaPositiveQuotient (%s) match the generic composition\n", backend->name());
  return failures;
}

// A convolution shape for the path tests below.
struct ConvCase {
  const char* name;
  int batch;
  ConvGeometry g;
};

// Element counts of a case's input, output and weights.
struct ConvCounts {
  int64_t in, out, weight;
};
ConvCounts countsOf(const ConvCase& c) {
  const ConvGeometry& g = c.g;
  return {int64_t(c.batch) * g.inChannels * g.inHeight * g.inWidth, int64_t(c.batch) * g.outChannels * g.outHeight * g.outWidth,
          int64_t(g.outChannels) * g.inChannels * g.kernelHeight * g.kernelWidth};
}

// `count` values uniform in [−1, 1), with every `zeroEvery`-th one (from the first) exactly 0 when zeroEvery > 0.
std::vector<float> randomValues(std::mt19937& rng, int64_t count, int zeroEvery = 0) {
  std::uniform_real_distribution<float> value(-1.f, 1.f);
  std::vector<float> values(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) values[size_t(i)] = zeroEvery > 0 && i % zeroEvery == 0 ? 0.f : value(rng);
  return values;
}

// `values` in a new buffer of the backend.
Buffer uploaded(Backend& backend, const std::vector<float>& values) {
  Buffer b(backend, int64_t(values.size()));
  backend.upload(b.data(), values.data(), b.count());
  return b;
}

// Where two buffers of the backend first differ (−1: nowhere), with both values there.
int64_t firstDifference(Backend& backend, const Buffer& a, const Buffer& b, float* valueA, float* valueB) {
  std::vector<float> ha(size_t(a.count())), hb(size_t(b.count()));
  backend.download(ha.data(), a.data(), a.count());
  backend.download(hb.data(), b.data(), b.count());
  for (size_t i = 0; i < ha.size(); ++i) {
    if (ha[i] != hb[i]) {
      *valueA = ha[i];
      *valueB = hb[i];
      return int64_t(i);
    }
  }
  return -1;
}

// convTransposedTimes (the product by the input fused into the transposed convolution where the backend can) gives
// the same values as the default composition, convTransposed then multiply: on shapes that take the fused flipped
// convolution (tiles within a sample, tiles spanning samples, the split over output rows) and shapes that do not.
int testConvTransposedTimes(Device device) {
  std::unique_ptr<Backend> backend = makeBackend(device);
  backend->setThreads(2);
  std::mt19937 rng(7);
  const std::vector<ConvCase> cases{
      {"3x3 pad 1, 16 channels, 9x11", 2, {16, 9, 11, 8, 9, 11, 3, 3, 1, 1, 1, 1, 1, 1, 1}},
      {"3x3 pad 1, 24 channels, 4x4 (tiles span samples)", 5, {24, 4, 4, 12, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1}},
      {"3x3 pad 1, 64 channels, 2x2 batch 1 (split over rows)", 1, {64, 2, 2, 32, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1}},
      {"1x1, 32 channels, 7x7", 3, {32, 7, 7, 20, 7, 7, 1, 1, 1, 1, 0, 0, 1, 1, 1}},
      {"3x3 no padding, 16 channels, 40 deep", 2, {16, 8, 8, 40, 6, 6, 3, 3, 1, 1, 0, 0, 1, 1, 1}},
      {"3 channels (flipped: the row kernel)", 2, {3, 8, 8, 16, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1}},
      {"stride 2 (not flipped)", 2, {16, 9, 9, 8, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1}},
  };
  int failures = 0;
  for (const ConvCase& c : cases) {
    const ConvCounts n = countsOf(c);
    Buffer sb = uploaded(*backend, randomValues(rng, n.out)), inb = uploaded(*backend, randomValues(rng, n.in));
    Buffer wb = uploaded(*backend, randomValues(rng, n.weight));
    Buffer fused(*backend, n.in), generic(*backend, n.in);
    backend->convTransposedTimes(c.g, c.batch, sb.data(), wb.data(), inb.data(), fused.data());
    backend->Backend::convTransposedTimes(c.g, c.batch, sb.data(), wb.data(), inb.data(), generic.data());
    float a = 0.f, b = 0.f;
    if (const int64_t i = firstDifference(*backend, fused, generic, &a, &b); i >= 0) {
      std::printf("FAIL convTransposedTimes (%s) %s: element %ld is %.9g, convTransposed then multiply gives %.9g\n",
                  backend->name(), c.name, long(i), a, b);
      ++failures;
    }
  }
  if (failures == 0) std::printf("ok    convTransposedTimes (%s) equals convTransposed then multiply\n", backend->name());
  return failures;
}

// convTransposedQuotientTimes (s = m·r / stab(z) computed where the backend reads s: the CPU's zero-padded copy)
// gives the same bits as its default composition, stabilizedDivide then convTransposedTimes: for each mask mode, with
// zeros in r and z, on maps the AVX2 kernel reads from a padded copy (32 and 64 wide), batches whose samples the
// threads take one by one (9 of 32×32), and shapes that take other paths. The per-sample sums it may take on the way
// equal sumPerSample's of its result, bit for bit.
int testConvTransposedQuotientTimes(Device device) {
  std::unique_ptr<Backend> backend = makeBackend(device);
  backend->setThreads(2);
  std::mt19937 rng(11);
  const std::vector<ConvCase> cases{
      {"3x3 pad 1, 32 channels, 32x32", 2, {32, 32, 32, 24, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1}},
      {"3x3 pad 1, 16 channels, 32x32, batch 3", 3, {16, 32, 32, 16, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1}},
      {"3x3 pad 2 dilation 2, 16 channels, 64x64", 1, {16, 64, 64, 20, 64, 64, 3, 3, 1, 1, 2, 2, 2, 2, 1}},
      {"3x3 pad 1, 16 channels, 16x16 (packed)", 2, {16, 16, 16, 8, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1}},
      {"3 channels (flipped: the row kernel)", 2, {3, 8, 8, 16, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1}},
      {"3x3 pad 1, 8 channels, 32x32, batch 9 (a task per sample)", 9, {8, 32, 32, 16, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1}},
      {"3 channels, 32x32, batch 9 (a task per sample, the row kernel)", 9, {3, 32, 32, 16, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1}},
      {"stride 2 (not flipped)", 2, {16, 9, 9, 8, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1}},
  };
  int failures = 0;
  for (const ConvCase& c : cases) {
    const ConvCounts n = countsOf(c);
    Buffer rb = uploaded(*backend, randomValues(rng, n.out, 7)), zb = uploaded(*backend, randomValues(rng, n.out, 5));
    Buffer mb = uploaded(*backend, randomValues(rng, n.out, 11)), inb = uploaded(*backend, randomValues(rng, n.in));
    Buffer wb = uploaded(*backend, randomValues(rng, n.weight));
    Buffer fused(*backend, n.in), generic(*backend, n.in);
    for (int maskSign : {0, 1, -1}) {
      const Quotient q{rb.data(), zb.data(), maskSign == 0 ? nullptr : mb.data(), maskSign, 0.25f};
      std::vector<double> sums(size_t(c.batch), -1.0), expected(size_t(c.batch));
      backend->convTransposedQuotientTimes(c.g, c.batch, q, wb.data(), inb.data(), fused.data(), sums.data());
      backend->Backend::convTransposedQuotientTimes(c.g, c.batch, q, wb.data(), inb.data(), generic.data());
      float a = 0.f, b = 0.f;
      if (const int64_t i = firstDifference(*backend, fused, generic, &a, &b); i >= 0) {
        std::printf("FAIL convTransposedQuotientTimes (%s) %s, mask sign %d: element %ld is %.9g, "
                    "stabilizedDivide then convTransposedTimes gives %.9g\n",
                    backend->name(), c.name, maskSign, long(i), a, b);
        ++failures;
      }
      backend->sumPerSample(fused.data(), c.batch, n.in / c.batch, expected.data());
      if (sums != expected) {
        std::printf("FAIL convTransposedQuotientTimes (%s) %s, mask sign %d: its per-sample sums differ from "
                    "sumPerSample's (sample 0: %.17g against %.17g)\n",
                    backend->name(), c.name, maskSign, sums[0], expected[0]);
        ++failures;
      }
    }
  }
  if (failures == 0)
    std::printf("ok    convTransposedQuotientTimes (%s) equals stabilizedDivide then convTransposedTimes\n", backend->name());
  return failures;
}

// The paths chosen by shape: denseTransposed's two-halves row split at batch ≤ 4 and the column split above it, and
// convForward's padded copy read in place (stride-1 maps whose rows hold whole half-panels and whose border adds
// little: 32 wide and more) against packing. Each against float64, and bit-identical for 1, 2 and 3 threads.
int testShapePaths(Device device) {
  std::unique_ptr<Backend> backend = makeBackend(device);
  std::mt19937 rng(11);
  int failures = 0;
  // Runs `compute` (inputs uploaded, output downloaded) with 1, 2 and 3 threads and checks it against `reference`.
  auto check = [&](const std::string& name, const std::vector<std::vector<float>>& inputs, int64_t outCount,
                   const std::vector<double>& reference, const std::vector<double>& scale,
                   const std::function<void(const std::vector<const float*>&, float*)>& compute) {
    // A fresh backend: it caches derived weights by address, which a freed buffer may pass on to the next case.
    backend = makeBackend(device);
    std::vector<Buffer> buffers;
    std::vector<const float*> pointers;
    for (const auto& v : inputs) {
      buffers.emplace_back(*backend, int64_t(v.size()));
      backend->upload(buffers.back().data(), v.data(), int64_t(v.size()));
      pointers.push_back(buffers.back().data());
    }
    std::vector<float> first;
    for (int threads : {1, 2, 3}) {
      backend->setThreads(threads);
      Buffer out(*backend, outCount);
      compute(pointers, out.data());
      std::vector<float> result(static_cast<size_t>(outCount));
      backend->download(result.data(), out.data(), outCount);
      for (int64_t i = 0; i < outCount; ++i) {
        if (std::fabs(result[size_t(i)] - reference[size_t(i)]) > 1e-5 * scale[size_t(i)] + 1e-6) {
          std::printf("FAIL %s (%s), %d threads: element %ld is %.9g, float64 gives %.9g\n", name.c_str(), backend->name(),
                      threads, long(i), result[size_t(i)], reference[size_t(i)]);
          ++failures;
          return;
        }
      }
      if (first.empty()) first = result;
      else if (result != first) {
        std::printf("FAIL %s (%s): %d threads change bits\n", name.c_str(), backend->name(), threads);
        ++failures;
        return;
      }
    }
  };
  for (int batch : {1, 3, 4, 5}) {
    for (const auto& [in, out] : std::vector<std::pair<int, int>>{{37, 600}, {520, 1031}, {9, 100}}) {
      const std::vector<float> s = randomValues(rng, int64_t(batch) * out), w = randomValues(rng, int64_t(out) * in);
      std::vector<double> reference(size_t(batch) * in, 0.0), scale(size_t(batch) * in, 0.0);
      for (int n = 0; n < batch; ++n)
        for (int k = 0; k < out; ++k)
          for (int i = 0; i < in; ++i) {
            const double term = double(s[size_t(n * out + k)]) * w[size_t(k) * in + i];
            reference[size_t(n) * in + i] += term;
            scale[size_t(n) * in + i] += std::fabs(term);
          }
      check("denseTransposed batch " + std::to_string(batch) + ", " + std::to_string(out) + "→" + std::to_string(in),
            {s, w}, int64_t(batch) * in, reference, scale, [&](const std::vector<const float*>& p, float* dx) {
              backend->denseTransposed(batch, in, out, p[0], p[1], dx);
            });
    }
  }
  const std::vector<ConvCase> convCases{
      {"3x3 pad 1, 32x32 (padded copy)", 2, {6, 32, 32, 7, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1}},
      {"3x3 pad 2 dilation 2, 64x64 (padded copy)", 1, {3, 64, 64, 4, 64, 64, 3, 3, 1, 1, 2, 2, 2, 2, 1}},
      {"3x3 pad 1 row stride 2, 64x32 (padded copy)", 2, {3, 64, 32, 5, 32, 32, 3, 3, 2, 1, 1, 1, 1, 1, 1}},
      {"3x3 pad 1, 8x8 (packed: two rows per panel)", 3, {10, 8, 8, 14, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1}},
      {"3x3 pad 1, 16x16 (packed)", 2, {6, 16, 16, 7, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1}},
      {"5x5 pad 2 dilation 1, 8x24", 2, {4, 8, 24, 9, 8, 24, 5, 5, 1, 1, 2, 2, 1, 1, 1}},
      {"3x3 pad 2 dilation 2, 16x8", 2, {5, 16, 8, 6, 16, 8, 3, 3, 1, 1, 2, 2, 2, 2, 1}},
      {"3x3 pad 1 row stride 2, 9x16", 2, {5, 9, 16, 6, 5, 16, 3, 3, 2, 1, 1, 1, 1, 1, 1}},
      {"3x3 pad 1, 7x7 (packed)", 2, {5, 7, 7, 6, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1}},
  };
  for (const ConvCase& c : convCases) {
    const ConvGeometry& g = c.g;
    const ConvCounts n = countsOf(c);
    const std::vector<float> x = randomValues(rng, n.in), w = randomValues(rng, n.weight);
    const std::vector<float> b = randomValues(rng, g.outChannels);
    const int64_t outCount = n.out;
    std::vector<double> reference(static_cast<size_t>(outCount)), scale(static_cast<size_t>(outCount));
    for (int n = 0; n < c.batch; ++n)
      for (int m = 0; m < g.outChannels; ++m)
        for (int oh = 0; oh < g.outHeight; ++oh)
          for (int ow = 0; ow < g.outWidth; ++ow) {
            double sum = b[size_t(m)], magnitude = std::fabs(b[size_t(m)]);
            for (int ch = 0; ch < g.inChannels; ++ch)
              for (int i = 0; i < g.kernelHeight; ++i)
                for (int j = 0; j < g.kernelWidth; ++j) {
                  const int h = oh * g.strideHeight - g.padTop + i * g.dilationHeight;
                  const int v = ow * g.strideWidth - g.padLeft + j * g.dilationWidth;
                  if (h < 0 || h >= g.inHeight || v < 0 || v >= g.inWidth) continue;
                  const double term = double(w[size_t(((m * g.inChannels + ch) * g.kernelHeight + i) * g.kernelWidth + j)]) *
                                      x[size_t(((int64_t(n) * g.inChannels + ch) * g.inHeight + h) * g.inWidth + v)];
                  sum += term;
                  magnitude += std::fabs(term);
                }
            const size_t at = size_t(((int64_t(n) * g.outChannels + m) * g.outHeight + oh) * g.outWidth + ow);
            reference[at] = sum;
            scale[at] = magnitude;
          }
    check(std::string("convForward ") + c.name, {x, w, b}, outCount, reference, scale,
          [&](const std::vector<const float*>& p, float* y) { backend->convForward(g, c.batch, p[0], p[1], p[2], y, false, 1.f); });
  }
  if (failures == 0) std::printf("ok    denseTransposed and convForward (%s) by shape path, against float64\n", backend->name());
  return failures;
}

// Backend buffers, small and large, fresh and recycled: zeroed where asked, holding what was written to all of them,
// 64-byte aligned, and on Linux the large ones (4 MiB and more) 2 MiB aligned for transparent huge pages.
int testBuffers(Device device) {
  auto backend = makeBackend(device);
  int failures = 0;
  for (const int64_t count : {int64_t(1), int64_t(1000), int64_t(1) << 20, (int64_t(5) << 20) / 4 + 3}) {
    for (int round = 0; round < 2; ++round) {  // round 1 gets the buffers released in round 0 back
      Buffer dirty = Buffer::uninitialized(*backend, count);
      backend->fill(dirty.data(), 1.f, count);
      Buffer zeroed(*backend, count);
      std::vector<float> host(size_t(count), -1.f);
      backend->download(host.data(), zeroed.data(), count);
      const bool allZero = std::all_of(host.begin(), host.end(), [](float v) { return v == 0.f; });
      backend->download(host.data(), dirty.data(), count);
      const bool allOne = std::all_of(host.begin(), host.end(), [](float v) { return v == 1.f; });
      const auto address = reinterpret_cast<uintptr_t>(dirty.data());
      const bool aligned = device != Device::Cpu || address % 64 == 0;
#if defined(__linux__)
      const bool huge = device != Device::Cpu || count * 4 < (int64_t(4) << 20) || address % (uintptr_t(2) << 20) == 0;
#else
      const bool huge = true;
#endif
      if (!allZero || !allOne || !aligned || !huge) {
        std::printf("FAIL buffers of %ld floats, round %d: %s\n", long(count), round,
                    !allZero ? "a zeroed buffer is not zero"
                    : !allOne  ? "a buffer lost what was written"
                    : !aligned ? "not 64-byte aligned"
                               : "a large buffer is not 2 MiB aligned");
        ++failures;
      }
    }
  }
  if (failures == 0) std::printf("ok    backend buffers: small and large, fresh and recycled, zeroed where asked\n");
  return failures;
}

// reluGatedLayers on small plans: which producers of a ReLU reach the rest only through it, by who reads them and
// with which rules (the numerical consequences are in test/engine/random-shapes.test.ts).
int testReluGated() {
  int failures = 0;
  auto rule = [](RuleKind kind) {
    RuleParams r;
    r.kind = kind;
    r.epsilon = r.stabilizer = 1e-6;
    return r;
  };
  // The rules a composite gives each layer kind, with `linear` on dense and conv2d layers.
  auto rulesFor = [&](const Plan& plan, const std::vector<RuleKind>& linear) {
    std::vector<RuleParams> rules;
    size_t next = 0;
    for (const Layer& l : plan.layers) {
      switch (l.kind) {
        case LayerKind::Dense: case LayerKind::Conv2d: rules.push_back(rule(linear.at(next++))); break;
        case LayerKind::AvgPool2d: case LayerKind::GlobalAvgPool: case LayerKind::Add: rules.push_back(rule(RuleKind::Norm)); break;
        case LayerKind::MaxPool2d: case LayerKind::Flatten: case LayerKind::Reshape: case LayerKind::Concat: case LayerKind::Pad:
          rules.push_back(rule(RuleKind::Gradient));
          break;
        default: rules.push_back(rule(RuleKind::Pass)); break;
      }
    }
    return rules;
  };
  auto expect = [&](const char* what, const Plan& plan, const std::vector<RuleParams>* rules, std::vector<int> layers) {
    const std::vector<bool> got = reluGatedLayers(plan, rules);
    std::vector<int> marked;
    for (int i = 0; i < int(got.size()); ++i)
      if (got[i]) marked.push_back(i);
    if (marked != layers) {
      std::string list;
      for (int i : marked) list += " " + std::to_string(i);
      std::printf("FAIL reluGatedLayers, %s: marked [%s ]\n", what, list.c_str());
      ++failures;
    }
  };
  const RuleKind eps = RuleKind::Epsilon;
  {
    // 0 conv, 1 relu, 2 max-pool, 3 conv, 4 relu, 5 flatten, 6 dense, 7 relu (the output).
    PlanBuilder b({3, 8, 8}, 1);
    const int a = b.unary(LayerKind::Relu, b.conv(-1, 4, 3, 1, 1));
    const int c = b.unary(LayerKind::Relu, b.conv(b.pool(LayerKind::MaxPool2d, a, 2, 2, 0), 4, 3, 1, 1));
    b.unary(LayerKind::Relu, b.dense(b.flatten(c), 5));
    const Plan& plan = b.plan();
    std::vector<RuleParams> rules = rulesFor(plan, {eps, eps, eps});
    expect("ε everywhere (the output's ReLU keeps its input)", plan, &rules, {0, 3});
    expect("a forward pass alone (every ReLU, the output's too)", plan, nullptr, {0, 3, 6});
    for (RuleKind kind : {RuleKind::ZPlus, RuleKind::Gamma, RuleKind::AlphaBeta, RuleKind::Lrp0}) {
      rules = rulesFor(plan, {eps, kind, eps});
      expect("a reader multiplying its input", plan, &rules, {0, 3});
    }
    for (RuleKind kind : {RuleKind::Flat, RuleKind::WSquare, RuleKind::ZBox}) {
      rules = rulesFor(plan, {eps, kind, eps});
      expect("flat / w² / zᴮ reading through the max-pool", plan, &rules, {3});
      rules = rulesFor(plan, {eps, eps, kind});
      expect("flat / w² / zᴮ reading through the flatten", plan, &rules, {0});
    }
  }
  {
    // A convolution read by its ReLU and by a sum; the sum's ReLU read by a sigmoid, then by a BatchNorm.
    PlanBuilder b({2, 6, 6}, 2);
    const int conv = b.conv(-1, 2, 3, 1, 1);
    const int sum = b.add({b.unary(LayerKind::Relu, conv), conv});
    const int relu = b.unary(LayerKind::Relu, sum);
    const int head = b.dense(b.flatten(b.unary(LayerKind::Sigmoid, relu)), 3);
    (void)head;
    const Plan& plan = b.plan();
    const std::vector<RuleParams> rules = rulesFor(plan, {eps, eps});
    expect("a second reader of z, a sigmoid reading the ReLU", plan, &rules, {});
    expect("a forward pass alone: the sum, not the twice-read convolution", plan, nullptr, {sum});
    PlanBuilder n({2, 6, 6}, 3);
    n.dense(n.flatten(n.batchNorm(n.unary(LayerKind::Relu, n.add({n.conv(-1, 2, 3, 1, 1), n.conv(-1, 2, 3, 1, 1)})))), 3);
    const std::vector<RuleParams> normRules = rulesFor(n.plan(), {eps, eps, eps});
    expect("a BatchNorm reading the ReLU", n.plan(), &normRules, {});
  }
  if (failures == 0) std::printf("ok    reluGatedLayers: readers, rules, second readers, the output\n");
  return failures;
}

// parallelForDynamic hands out every index exactly once, in contiguous chunks, whatever the counts of tasks and
// threads, and passes an exception from a chunk on to the caller.
int testParallelForDynamic() {
  int failures = 0;
  for (int64_t count : {1, 2, 7, 64, 1001}) {
    for (int64_t tasks : {1, 2, 3, 8, 5000}) {
      for (int threads : {1, 2, 4}) {
        std::vector<std::atomic<int>> seen(static_cast<size_t>(count));
        for (auto& s : seen) s = 0;
        std::atomic<int> badRange{0};
        parallelForDynamic(count, threads, tasks, [&](int64_t begin, int64_t end) {
          if (begin < 0 || end > count || begin >= end) ++badRange;
          for (int64_t i = begin; i < end; ++i) ++seen[size_t(i)];
        });
        const bool once = std::all_of(seen.begin(), seen.end(), [](const std::atomic<int>& s) { return s == 1; });
        if (!once || badRange) {
          std::printf("FAIL parallelForDynamic count %ld tasks %ld threads %d: %s\n", long(count), long(tasks), threads,
                      badRange ? "an empty or out-of-range chunk" : "an index was not run exactly once");
          ++failures;
        }
      }
    }
  }
  try {
    parallelForDynamic(100, 2, 10, [](int64_t begin, int64_t) {
      if (begin >= 50) throw Error("E_INTERNAL", "chunk failed");
    });
    std::printf("FAIL parallelForDynamic: an exception in a chunk was lost\n");
    ++failures;
  } catch (const Error& error) {
    if (error.code() != "E_INTERNAL") ++failures;
  }
  if (failures == 0) std::printf("ok    parallelForDynamic runs every index once and passes exceptions on\n");
  return failures;
}

// The engine must refuse a batch of zero and keep working afterwards (the backend's error path).
int testErrors(Device device) {
  Model model(operationsPlan(), makeBackend(device));
  const std::vector<RuleParams> rules = compositeRules(model.plan(), "epsilon", CompositeParams{});
  try {
    explainBatch(model, {}, 0, rules, nullptr, 1);
    std::printf("errors: a batch of 0 was accepted FAIL\n");
    return 1;
  } catch (const Error& error) {
    if (error.code() != "E_SHAPE") {
      std::printf("errors: batch 0 gave %s FAIL\n", error.code().c_str());
      return 1;
    }
  }
  const Result r = explainBatch(model, randomInput(model.plan(), 2, 3), 2, rules, nullptr, 1);
  for (float v : r.relevance) {
    if (!std::isfinite(v)) {
      std::printf("errors: non-finite relevance after an error FAIL\n");
      return 1;
    }
  }
  return 0;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// CPU against CUDA at batch 128 and 1024 on the two benchmark layouts, three composites.
int bench(const Options& options, bool cuda) {
  const double start = now();
  std::ostringstream report;
  report << "| model | batch | composite | cpu ms (" << options.threads << " threads) | cuda ms | speed-up | cuda samples/s | cuda vs cpu |\n";
  report << "| --- | --- | --- | --- | --- | --- | --- | --- |\n";
  std::printf("%s", report.str().c_str());
  struct Entry {
    const char* name;
    Plan plan;
  };
  Entry models[] = {{"vgg-cifar", vggCifarPlan()}, {"resnet18-64", resnet18Plan()}};
  const char* const composites[] = {"epsilon", "epsilon-plus", "epsilon-gamma-box"};
  for (Entry& m : models) {
    Model cpuModel(m.plan, makeBackend(Device::Cpu));
    std::unique_ptr<Model> cudaModel;
    if (cuda) cudaModel = std::make_unique<Model>(m.plan, makeBackend(Device::Cuda));
    for (const char* composite : composites) {
      const std::vector<RuleParams> rules = compositeRules(m.plan, composite, CompositeParams{});
      double cpuSecondsAt128 = 0;
      for (int batch : options.batches) {
        const std::vector<float> x = randomInput(m.plan, batch, 21);
        std::vector<double> gpuTimes;
        Result gpu;
        if (cudaModel) {
          explainBatch(*cudaModel, x, batch, rules, nullptr, options.threads);  // warm-up: weight upload, pool growth
          for (int rep = 0; rep < 3; ++rep) {
            gpu = explainBatch(*cudaModel, x, batch, rules, nullptr, options.threads);
            gpuTimes.push_back(gpu.seconds);
          }
        }
        // CPU: one run, skipped when the time left would not hold it (projected from batch 128).
        const double projected = cpuSecondsAt128 * batch / 128.0 * 1.3;
        const double left = options.benchSeconds - (now() - start);
        double cpuSeconds = -1;
        Result cpu;
        if (projected < left) {
          cpu = explainBatch(cpuModel, x, batch, rules, nullptr, options.threads);
          cpuSeconds = cpu.seconds;
          if (batch == 128) cpuSecondsAt128 = cpuSeconds;
        }
        char row[512];
        const double gpuSeconds = gpuTimes.empty() ? -1 : median(gpuTimes);
        auto ms = [](double s) { return s < 0 ? std::string("–") : std::to_string(int64_t(std::llround(s * 1000))); };
        std::string speedup = "–", rate = "–", agreement = "–";
        if (gpuSeconds > 0 && cpuSeconds > 0) speedup = std::to_string(cpuSeconds / gpuSeconds).substr(0, 5) + "×";
        if (gpuSeconds > 0) rate = std::to_string(int64_t(batch / gpuSeconds));
        if (gpuSeconds > 0 && cpuSeconds > 0) {
          char e[32];
          std::snprintf(e, sizeof e, "%.1e", relativeError(gpu.relevance, cpu.relevance, batch));
          agreement = e;
        }
        std::snprintf(row, sizeof row, "| %s | %d | %s | %s | %s | %s | %s | %s |\n", m.name, batch, composite,
                      cpuSeconds < 0 ? "skipped (time)" : ms(cpuSeconds).c_str(), ms(gpuSeconds).c_str(), speedup.c_str(),
                      rate.c_str(), agreement.c_str());
        std::printf("%s", row);
        std::fflush(stdout);
        report << row;
      }
    }
  }
  report << "\nCUDA: median of 3 timed explain() calls after one warm-up, upload and download included; CPU: one call.\n";
  if (!options.out.empty()) {
    std::ofstream file(options.out);
    file << report.str();
  }
  return 0;
}

Options parseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--refs") options.refs = next();
    else if (a == "--bench") options.bench = true;
    else if (a == "--require-cuda") options.requireCuda = true;
    else if (a == "--out") options.out = next();
    else if (a == "--threads") options.threads = std::max(1, std::atoi(next().c_str()));
    else if (a == "--bench-seconds") options.benchSeconds = std::atof(next().c_str());
    else if (a == "--batches") {
      options.batches.clear();
      std::stringstream list(next());
      for (std::string item; std::getline(list, item, ',');) options.batches.push_back(std::max(1, std::atoi(item.c_str())));
    } else {
      throw std::runtime_error("usage: lrp_engine_test [--refs DIR] [--threads N] [--require-cuda] "
                               "[--bench [--out FILE] [--batches 128,1024] [--bench-seconds S]]");
    }
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options options = parseOptions(argc, argv);
    std::string cudaStatus;
    const bool cuda = cudaAvailable(&cudaStatus);
    std::printf("CUDA backend: %s\n", cuda ? "available" : cudaStatus.c_str());
    if (!cuda) std::printf("CUDA comparisons skipped (%s)\n", cudaStatus.c_str());
    if (!cuda && options.requireCuda) {
      std::printf("FAIL: --require-cuda given but the CUDA backend cannot run\n");
      return 1;
    }
    if (options.bench) return bench(options, cuda);
    int failures = testGoldens(options, cuda);
    failures += testErrors(Device::Cpu);
    failures += testGammaQuotients(Device::Cpu);
    failures += testConvTransposedTimes(Device::Cpu);
    failures += testConvTransposedQuotientTimes(Device::Cpu);
    failures += testShapePaths(Device::Cpu);
    failures += testParallelForDynamic();
    failures += testReluGated();
    failures += testBuffers(Device::Cpu);
    if (cuda) {
      failures += testErrors(Device::Cuda);
      failures += testGammaQuotients(Device::Cuda);
      failures += testConvTransposedTimes(Device::Cuda);
      failures += testConvTransposedQuotientTimes(Device::Cuda);
      failures += testCudaAgainstCpu(options);
    }
    std::printf("%s\n", failures == 0 ? "engine test: all passed" : "engine test: FAILED");
    return failures == 0 ? 0 : 1;
  } catch (const Error& error) {
    std::fprintf(stderr, "engine test: %s: %s\n", error.code().c_str(), error.what());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "engine test: %s\n", error.what());
  }
  return 1;
}
