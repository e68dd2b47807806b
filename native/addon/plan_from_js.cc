// Plan and rule conversion: every field checked for type and range; the engine then re-validates the shapes.
#include "plan_from_js.h"

#include "js_values.h"

namespace lrp::addon {

namespace {

template <size_t N>
void readInts(const Napi::Object& node, const char* key, std::array<int, N>& out, const std::string& where) {
  Napi::Value v = node.Get(key);
  if (v.IsUndefined()) return;
  std::vector<int64_t> values = toInt64Vector(v, where + "." + key, N);
  if (values.size() != N) throw Error("E_INPUT", where + ": '" + key + "' must have " + std::to_string(N) + " entries");
  for (size_t i = 0; i < N; ++i) {
    if (values[i] < 0 || values[i] > (1 << 20)) throw Error("E_SHAPE", where + ": '" + key + "' is out of range");
    out[i] = int(values[i]);
  }
}

}  // namespace

Plan planFromJs(const Napi::Object& spec) {
  Plan plan;
  plan.inputShape = toInt64Vector(spec.Get("inputShape"), "inputShape");
  Napi::Array nodes = getArray(spec, "nodes", "plan");
  if (nodes.Length() > 100000) throw Error("E_TOO_LARGE", "more than 100000 layers");
  for (uint32_t i = 0; i < nodes.Length(); ++i) {
    Napi::Value value = nodes.Get(i);
    if (!value.IsObject()) throw Error("E_INPUT", "plan node " + std::to_string(i) + " is not an object");
    Napi::Object node = value.As<Napi::Object>();
    const std::string where = "layer " + std::to_string(i);
    Layer layer;
    layer.kind = layerKindFromName(getString(node, "op", where));
    layer.name = getString(node, "name", where);
    for (int64_t j : toInt64Vector(node.Get("inputs"), where + ".inputs", 1024)) layer.inputs.push_back(int(j));
    Napi::Array shapes = getArray(node, "inputShapes", where);
    if (shapes.Length() > 1024) throw Error("E_TOO_LARGE", where + ": too many inputs");
    for (uint32_t k = 0; k < shapes.Length(); ++k) layer.inputShapes.push_back(toInt64Vector(shapes.Get(k), where + ".inputShapes"));
    layer.outputShape = toInt64Vector(node.Get("outputShape"), where + ".outputShape");
    if (layer.isLinear()) {
      layer.weight = copyFloat32(getFloat32Array(node, "weight", where, true));
      layer.weightShape = toInt64Vector(node.Get("weightShape"), where + ".weightShape");
      layer.bias = copyFloat32(getFloat32Array(node, "bias", where, false));
    }
    if (layer.kind == LayerKind::BatchNorm) {
      layer.scale = copyFloat32(getFloat32Array(node, "scale", where, true));
      layer.shift = copyFloat32(getFloat32Array(node, "shift", where, true));
    }
    readInts(node, "kernel", layer.kernel, where);
    readInts(node, "stride", layer.stride, where);
    readInts(node, "padding", layer.padding, where);
    readInts(node, "dilation", layer.dilation, where);
    layer.groups = getInt(node, "groups", where, 1, 1, 1 << 20);
    layer.ceilMode = getBool(node, "ceilMode", false);
    layer.countIncludePad = getBool(node, "countIncludePad", true);
    layer.alpha = float(getNumber(node, "alpha", where, 0.0));
    layer.approximate = getInt(node, "approximate", where, 0, 0, 1);
    layer.axis = getInt(node, "axis", where, 0, 0, 64);
    plan.layers.push_back(std::move(layer));
  }
  validatePlan(plan);
  return plan;
}

RuleParams ruleFromJs(const Napi::Object& object, const std::string& where) {
  RuleParams rule;
  rule.kind = ruleKindFromName(getString(object, "rule", where));
  rule.epsilon = getNumber(object, "epsilon", where, 0.0);
  rule.stabilizer = getNumber(object, "stabilizer", where, 0.0);
  rule.gamma = getNumber(object, "gamma", where, 0.0);
  rule.alpha = getNumber(object, "alpha", where, 1.0);
  rule.beta = getNumber(object, "beta", where, 0.0);
  rule.ignoreBias = getBool(object, "ignoreBias", false);
  rule.low = float(getNumber(object, "low", where, 0.0));
  rule.high = float(getNumber(object, "high", where, 0.0));
  rule.lowTensor = copyFloat32(getFloat32Array(object, "lowTensor", where, false));
  rule.highTensor = copyFloat32(getFloat32Array(object, "highTensor", where, false));
  for (float v : rule.lowTensor) if (!std::isfinite(v)) throw Error("E_RULE", where + ": zBox low is not finite");
  for (float v : rule.highTensor) if (!std::isfinite(v)) throw Error("E_RULE", where + ": zBox high is not finite");
  return rule;
}

}  // namespace lrp::addon
