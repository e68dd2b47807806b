// Plans for the native engine tests: model.json goldens (BatchNorm merged in float64, as lib/model/graph.ts does),
// random-weight plans built layer by layer, and the composites of shared/refs/README.md as per-layer RuleParams.
#pragma once
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "../engine/plan.h"
#include "../engine/rule.h"
#include "json_value.h"
#include "npy_file.h"

namespace lrp::test {

// Builds a plan layer by layer, computing each output shape; random weights (He-normal) when asked for.
class PlanBuilder {
 public:
  PlanBuilder(Shape inputShape, uint32_t seed) : rng_(seed) { plan_.inputShape = std::move(inputShape); }

  const Shape& shape(int j) const { return j < 0 ? plan_.inputShape : plan_.layers[j].outputShape; }
  int last() const { return int(plan_.layers.size()) - 1; }
  Plan& plan() { return plan_; }

  int conv(int in, int outChannels, int kernel, int stride, int pad, int groups = 1, int dilation = 1, bool bias = true) {
    const Shape& x = shape(in);
    Layer l = base(LayerKind::Conv2d, in);
    l.weightShape = {outChannels, x[0] / groups, kernel, kernel};
    l.stride = {stride, stride};
    l.padding = {pad, pad, pad, pad};
    l.dilation = {dilation, dilation};
    l.groups = groups;
    const int64_t h = (x[1] + 2 * pad - int64_t(dilation) * (kernel - 1) - 1) / stride + 1;
    const int64_t w = (x[2] + 2 * pad - int64_t(dilation) * (kernel - 1) - 1) / stride + 1;
    l.outputShape = {outChannels, h, w};
    randomWeights(l, double(x[0] / groups) * kernel * kernel, bias);
    return push(std::move(l));
  }

  int dense(int in, int out, bool bias = true) {
    Layer l = base(LayerKind::Dense, in);
    l.weightShape = {out, shape(in)[0]};
    l.outputShape = {out};
    randomWeights(l, double(shape(in)[0]), bias);
    return push(std::move(l));
  }

  int pool(LayerKind kind, int in, int kernel, int stride, int pad, bool ceil = false, bool countIncludePad = true) {
    const Shape& x = shape(in);
    Layer l = base(kind, in);
    l.kernel = {kernel, kernel};
    l.stride = {stride, stride};
    l.padding = {pad, pad, pad, pad};
    l.ceilMode = ceil;
    l.countIncludePad = countIncludePad;
    auto out = [&](int64_t size) {
      const int64_t span = size + 2 * pad - kernel;
      int64_t o = (ceil ? (span + stride - 1) / stride : span / stride) + 1;
      if (ceil && (o - 1) * stride >= size + pad) o -= 1;
      return o;
    };
    l.outputShape = {x[0], out(x[1]), out(x[2])};
    return push(std::move(l));
  }

  int globalAvgPool(int in) {
    Layer l = base(LayerKind::GlobalAvgPool, in);
    l.outputShape = {shape(in)[0], 1, 1};
    return push(std::move(l));
  }

  int unary(LayerKind kind, int in, float alpha = 0.f, int approximate = 0) {
    Layer l = base(kind, in);
    l.alpha = alpha;
    l.approximate = approximate;
    l.outputShape = shape(in);
    return push(std::move(l));
  }

  int batchNorm(int in) {
    Layer l = base(LayerKind::BatchNorm, in);
    std::uniform_real_distribution<float> scale(0.5f, 1.5f), shift(-0.2f, 0.2f);
    for (int64_t c = 0; c < shape(in)[0]; ++c) {
      l.scale.push_back(scale(rng_));
      l.shift.push_back(shift(rng_));
    }
    l.outputShape = shape(in);
    return push(std::move(l));
  }

  int flatten(int in) {
    Layer l = base(LayerKind::Flatten, in);
    l.outputShape = {shapeSize(shape(in))};
    return push(std::move(l));
  }

  int add(const std::vector<int>& inputs) {
    Layer l = base(LayerKind::Add, inputs[0]);
    for (size_t k = 1; k < inputs.size(); ++k) {
      l.inputs.push_back(inputs[k]);
      l.inputShapes.push_back(shape(inputs[k]));
    }
    l.outputShape = shape(inputs[0]);
    return push(std::move(l));
  }

  int concat(const std::vector<int>& inputs) {
    Layer l = base(LayerKind::Concat, inputs[0]);
    l.axis = 0;
    l.outputShape = shape(inputs[0]);
    for (size_t k = 1; k < inputs.size(); ++k) {
      l.inputs.push_back(inputs[k]);
      l.inputShapes.push_back(shape(inputs[k]));
      l.outputShape[0] += shape(inputs[k])[0];
    }
    return push(std::move(l));
  }

  int pad(int in, std::array<int, 4> padding) {
    const Shape& x = shape(in);
    Layer l = base(LayerKind::Pad, in);
    l.padding = padding;
    l.outputShape = {x[0], x[1] + padding[0] + padding[2], x[2] + padding[1] + padding[3]};
    return push(std::move(l));
  }

 private:
  Layer base(LayerKind kind, int in) {
    Layer l;
    l.kind = kind;
    l.name = std::string(layerKindName(kind)) + "_" + std::to_string(plan_.layers.size());
    l.inputs = {in};
    l.inputShapes = {shape(in)};
    return l;
  }
  int push(Layer l) {
    plan_.layers.push_back(std::move(l));
    return last();
  }
  void randomWeights(Layer& l, double fanIn, bool bias) {
    std::normal_distribution<float> weight(0.f, float(std::sqrt(2.0 / fanIn)));
    std::uniform_real_distribution<float> biasValue(-0.1f, 0.1f);
    l.weight.resize(size_t(shapeSize(l.weightShape)));
    for (float& w : l.weight) w = weight(rng_);
    if (bias) {
      l.bias.resize(size_t(l.weightShape[0]));
      for (float& b : l.bias) b = biasValue(rng_);
    }
  }

  Plan plan_;
  std::mt19937 rng_;
};

// A sequential model.json of shared/refs (README "model.json"), every BatchNorm after a Conv/Linear merged into it
// in float64: W' = W·g/√(var+eps), b' = (b − mean)·g/√(var+eps) + beta.
inline Plan loadSequentialModel(const std::string& directory) {
  const Json model = readJson(directory + "/model.json");
  Shape inputShape;
  for (const Json& d : model["input_shape"].array) inputShape.push_back(int64_t(d.num()));
  PlanBuilder builder(inputShape, 0);
  Plan& plan = builder.plan();
  auto load = [&](const Json& name) { return readNpy(directory + "/" + name.str()); };
  auto pair = [](const Json& v) { return std::array<int, 2>{int(v[0].num()), int(v[1].num())}; };
  int current = -1;
  for (const Json& spec : model["layers"].array) {
    const std::string type = spec["type"].str();
    if (type == "linear" || type == "conv2d") {
      const NpyArray weight = load(spec["weight"]);
      if (type == "linear") {
        current = builder.dense(current, int(weight.shape[0]), false);
      } else {
        const auto stride = pair(spec["stride"]), padding = pair(spec["padding"]), dilation = pair(spec["dilation"]);
        if (weight.shape[2] != weight.shape[3] || stride[0] != stride[1] || padding[0] != padding[1] || dilation[0] != dilation[1]) {
          throw std::runtime_error("non-square conv geometry is not needed by the goldens");
        }
        current = builder.conv(current, int(weight.shape[0]), int(weight.shape[2]), stride[0], padding[0], int(spec["groups"].num()),
                               dilation[0], false);
      }
      Layer& l = plan.layers[current];
      l.name = spec["name"].str();
      l.weight = weight.toFloat();
      if (!spec["bias"].isNull()) l.bias = load(spec["bias"]).toFloat();
    } else if (type == "batchnorm") {
      Layer& prev = plan.layers.at(current);
      if (!prev.isLinear()) throw std::runtime_error("a BatchNorm not after a Conv/Linear is not needed by the goldens");
      const NpyArray gain = load(spec["weight"]), beta = load(spec["bias"]), mean = load(spec["running_mean"]),
                     var = load(spec["running_var"]);
      const double eps = spec["eps"].num();
      const int64_t channels = prev.weightShape[0], perChannel = int64_t(prev.weight.size()) / channels;
      std::vector<float> bias(static_cast<size_t>(channels), 0.f);
      for (int64_t c = 0; c < channels; ++c) {
        const double scale = gain.values[c] / std::sqrt(var.values[c] + eps);
        for (int64_t k = 0; k < perChannel; ++k) {
          float& w = prev.weight[size_t(c * perChannel + k)];
          w = float(double(w) * scale);
        }
        const double b = prev.hasBias() ? double(prev.bias[size_t(c)]) : 0.0;
        bias[size_t(c)] = float((b - mean.values[c]) * scale + beta.values[c]);
      }
      prev.bias = bias;
    } else if (type == "relu" || type == "tanh") {
      current = builder.unary(type == "relu" ? LayerKind::Relu : LayerKind::Tanh, current);
    } else if (type == "flatten") {
      current = builder.flatten(current);
    } else if (type == "maxpool2d" || type == "avgpool2d") {
      const auto kernel = pair(spec["kernel"]), stride = pair(spec["stride"]), padding = pair(spec["padding"]);
      current = builder.pool(type == "maxpool2d" ? LayerKind::MaxPool2d : LayerKind::AvgPool2d, current, kernel[0], stride[0],
                             padding[0]);
    } else {
      throw std::runtime_error("model.json layer type '" + type + "' is not supported by the test loader");
    }
    if (spec.has("name")) plan.layers[current].name = spec["name"].str();
  }
  return plan;
}

// The numbers a composite's rules take (shared/refs/README.md "Composites"), zennit's defaults where absent.
struct CompositeParams {
  double epsilon = 1e-6, stabilizer = 1e-6, gamma = 0.25, alpha = 2, beta = 1, low = -1, high = 1;

  static CompositeParams fromJson(const Json& params) {
    CompositeParams p;
    auto read = [&](const char* key, double& out) { if (params.has(key)) out = params[key].num(); };
    read("epsilon", p.epsilon);
    read("stabilizer", p.stabilizer);
    read("gamma", p.gamma);
    read("alpha", p.alpha);
    read("beta", p.beta);
    read("low", p.low);
    read("high", p.high);
    return p;
  }
};

// One RuleParams per layer for a named composite: the table of shared/refs/README.md, with the "first layer" choices
// of lib/rules/composites.ts (Flat / WSquare on the first dense or conv2d, ZBox on the first conv2d only).
inline std::vector<RuleParams> compositeRules(const Plan& plan, const std::string& composite, const CompositeParams& p) {
  auto rule = [&](RuleKind kind) {
    RuleParams r;
    r.kind = kind;
    r.stabilizer = p.stabilizer;
    return r;
  };
  auto epsilon = [&] {
    RuleParams r = rule(RuleKind::Epsilon);
    r.epsilon = p.epsilon;
    return r;
  };
  auto alphaBeta = [&] {
    RuleParams r = rule(RuleKind::AlphaBeta);
    r.alpha = p.alpha;
    r.beta = p.beta;
    return r;
  };
  auto gamma = [&] {
    RuleParams r = rule(RuleKind::Gamma);
    r.gamma = p.gamma;
    return r;
  };
  int firstLinear = -1, firstConv = -1;
  for (int i = 0; i < int(plan.layers.size()); ++i) {
    if (plan.layers[i].isLinear() && firstLinear < 0) firstLinear = i;
    if (plan.layers[i].kind == LayerKind::Conv2d && firstConv < 0) firstConv = i;
  }
  std::vector<RuleParams> rules;
  for (int i = 0; i < int(plan.layers.size()); ++i) {
    const Layer& l = plan.layers[i];
    switch (l.kind) {
      case LayerKind::Relu: case LayerKind::LeakyRelu: case LayerKind::Tanh: case LayerKind::Sigmoid:
      case LayerKind::Elu: case LayerKind::Gelu: case LayerKind::BatchNorm:
        rules.push_back(rule(RuleKind::Pass));
        continue;
      case LayerKind::AvgPool2d: case LayerKind::GlobalAvgPool: case LayerKind::Add:
        rules.push_back(rule(RuleKind::Norm));
        continue;
      case LayerKind::Dense: case LayerKind::Conv2d:
        break;
      default:
        rules.push_back(rule(RuleKind::Gradient));
        continue;
    }
    const bool conv = l.kind == LayerKind::Conv2d;
    RuleParams r;
    if (composite == "epsilon") r = epsilon();
    else if (composite == "epsilon-plus") r = conv ? rule(RuleKind::ZPlus) : epsilon();
    else if (composite == "epsilon-alpha2-beta1") r = conv ? alphaBeta() : epsilon();
    else if (composite == "epsilon-plus-flat") r = i == firstLinear ? rule(RuleKind::Flat) : conv ? rule(RuleKind::ZPlus) : epsilon();
    else if (composite == "epsilon-gamma-box") {
      if (i == firstConv) {
        r = rule(RuleKind::ZBox);
        r.low = float(p.low);
        r.high = float(p.high);
      } else {
        r = conv ? gamma() : epsilon();
      }
    } else if (composite == "zplus") r = rule(RuleKind::ZPlus);
    else if (composite == "gamma") r = gamma();
    else if (composite == "alpha-beta") r = alphaBeta();
    else if (composite == "wsquare-epsilon") r = i == firstLinear ? rule(RuleKind::WSquare) : epsilon();
    else throw std::runtime_error("unknown composite '" + composite + "'");
    rules.push_back(r);
  }
  return rules;
}

}  // namespace lrp::test
