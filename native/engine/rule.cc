// compileRule: each LRP rule as groups of weight/input terms (zennit's conventions, see shared/refs/README.md).
#include "rule.h"

#include "error.h"

namespace lrp {

namespace {
struct RuleName {
  RuleKind kind;
  const char* name;
};
constexpr RuleName kRuleNames[] = {
    {RuleKind::Lrp0, "lrp0"},   {RuleKind::Epsilon, "epsilon"}, {RuleKind::ZPlus, "zPlus"},
    {RuleKind::AlphaBeta, "alphaBeta"}, {RuleKind::Gamma, "gamma"}, {RuleKind::Flat, "flat"},
    {RuleKind::WSquare, "wSquare"}, {RuleKind::ZBox, "zBox"}, {RuleKind::Pass, "pass"},
    {RuleKind::Norm, "norm"},   {RuleKind::Gradient, "gradient"},
};
}  // namespace

RuleKind ruleKindFromName(const std::string& name) {
  for (const auto& r : kRuleNames) if (name == r.name) return r.kind;
  throw Error("E_RULE", "unknown rule '" + name + "'");
}

const char* ruleKindName(RuleKind kind) {
  for (const auto& r : kRuleNames) if (kind == r.kind) return r.name;
  return "unknown";
}

void checkRuleFits(const Layer& layer, const RuleParams& rule) {
  bool ok = false;
  switch (layer.kind) {
    case LayerKind::Dense: case LayerKind::Conv2d:
      ok = rule.kind != RuleKind::Pass && rule.kind != RuleKind::Norm && rule.kind != RuleKind::Gradient;
      break;
    case LayerKind::Relu: case LayerKind::LeakyRelu: case LayerKind::Tanh: case LayerKind::Sigmoid:
    case LayerKind::Elu: case LayerKind::Gelu: case LayerKind::BatchNorm:
      ok = rule.kind == RuleKind::Pass;
      break;
    case LayerKind::AvgPool2d: case LayerKind::GlobalAvgPool: case LayerKind::Add:
      ok = rule.kind == RuleKind::Norm;
      break;
    case LayerKind::MaxPool2d: case LayerKind::Flatten: case LayerKind::Reshape: case LayerKind::Concat: case LayerKind::Pad:
      ok = rule.kind == RuleKind::Gradient;
      break;
  }
  if (!ok) {
    throw Error("E_RULE", std::string("rule '") + ruleKindName(rule.kind) + "' does not apply to layer '" + layer.name + "' (" +
                              layerKindName(layer.kind) + ")");
  }
  // Parameters become float32 inside the kernels: keep them well inside its range.
  auto finite = [](double v) { return v == v && v <= 1e30 && v >= -1e30; };
  if (!finite(rule.epsilon) || !finite(rule.stabilizer) || rule.epsilon < 0 || rule.stabilizer < 0 || !finite(rule.gamma) ||
      rule.gamma < 0 || !finite(rule.alpha) || !finite(rule.beta)) {
    throw Error("E_RULE", "layer '" + layer.name + "': rule parameters must be finite numbers within ±1e30, epsilon/stabilizer/gamma ≥ 0");
  }
  if (rule.kind == RuleKind::ZBox) {
    int64_t size = shapeSize(layer.inputShapes[0]);
    if ((!rule.lowTensor.empty() && int64_t(rule.lowTensor.size()) != size) ||
        (!rule.highTensor.empty() && int64_t(rule.highTensor.size()) != size)) {
      throw Error("E_RULE", "zBox bounds on layer '" + layer.name + "' must have the layer's input size " + std::to_string(size));
    }
  }
}

RuleDescription compileRule(const RuleParams& rule, bool layerHasBias) {
  using W = WeightVariant;
  using B = BiasVariant;
  using I = InputVariant;
  const bool bias = layerHasBias && !rule.ignoreBias;
  const float stab = float(rule.stabilizer);
  RuleDescription d;
  switch (rule.kind) {
    case RuleKind::Lrp0:
    case RuleKind::Epsilon: {
      float e = float(rule.kind == RuleKind::Epsilon ? rule.epsilon : rule.stabilizer);
      // With the bias kept (or absent), z is exactly the forward output.
      d.groups.push_back({{{W::Original, I::Activation, 1.f}}, bias ? B::Original : B::None, 1.f, 0, e, bias || !layerHasBias});
      break;
    }
    case RuleKind::ZPlus:
      d.groups.push_back({{{W::Positive, I::Positive, 1.f}, {W::Negative, I::Negative, 1.f}},
                          bias ? B::Positive : B::None, 1.f, 0, stab, false});
      break;
    case RuleKind::AlphaBeta:
      d.groups.push_back({{{W::Positive, I::Positive, 1.f}, {W::Negative, I::Negative, 1.f}},
                          bias ? B::Positive : B::None, float(rule.alpha), 0, stab, false});
      if (rule.beta != 0) {
        d.groups.push_back({{{W::Negative, I::Positive, 1.f}, {W::Positive, I::Negative, 1.f}},
                            bias ? B::Negative : B::None, -float(rule.beta), 0, stab, false});
      }
      break;
    case RuleKind::Gamma:
      d.groups.push_back({{{W::GammaPositive, I::Positive, 1.f}, {W::GammaNegative, I::Negative, 1.f}},
                          bias ? B::GammaPositive : B::None, 1.f, +1, stab, false});
      d.groups.push_back({{{W::GammaNegative, I::Positive, 1.f}, {W::GammaPositive, I::Negative, 1.f}},
                          bias ? B::GammaNegative : B::None, 1.f, -1, stab, false});
      break;
    case RuleKind::Flat:
      d.groups.push_back({{{W::Ones, I::Ones, 1.f}}, B::None, 1.f, 0, stab, false});
      break;
    case RuleKind::WSquare:
      d.groups.push_back({{{W::Squared, I::Ones, 1.f}}, bias ? B::Squared : B::None, 1.f, 0, stab, false});
      break;
    case RuleKind::ZBox:
      // The biases cancel (b − b⁺ − b⁻ = 0), so zBox never uses them.
      d.groups.push_back({{{W::Original, I::Activation, 1.f}, {W::Positive, I::Low, -1.f}, {W::Negative, I::High, -1.f}},
                          B::None, 1.f, 0, stab, false});
      break;
    default:
      throw Error("E_RULE", std::string("rule '") + ruleKindName(rule.kind) + "' is not a rule for dense or conv2d layers");
  }
  return d;
}

}  // namespace lrp
