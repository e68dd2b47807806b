// Plan validation: the native side recomputes every shape instead of trusting what JavaScript sent.
#include "plan.h"

#include <cmath>
#include <sstream>

#include "error.h"

namespace lrp {

int64_t shapeSize(const Shape& shape) {
  int64_t size = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error("E_SHAPE", "negative dimension in shape " + shapeString(shape));
    if (d != 0 && size > kMaxElements / d) throw Error("E_TOO_LARGE", "shape " + shapeString(shape) + " has too many elements");
    size *= d;
  }
  return size;
}

std::string shapeString(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

namespace {

struct KindName {
  LayerKind kind;
  const char* name;
};

constexpr KindName kKindNames[] = {
    {LayerKind::Dense, "dense"},         {LayerKind::Conv2d, "conv2d"},   {LayerKind::MaxPool2d, "maxPool2d"},
    {LayerKind::AvgPool2d, "avgPool2d"}, {LayerKind::GlobalAvgPool, "globalAvgPool"},
    {LayerKind::BatchNorm, "batchNorm"}, {LayerKind::Relu, "relu"},       {LayerKind::LeakyRelu, "leakyRelu"},
    {LayerKind::Tanh, "tanh"},           {LayerKind::Sigmoid, "sigmoid"}, {LayerKind::Elu, "elu"},
    {LayerKind::Gelu, "gelu"},           {LayerKind::Flatten, "flatten"}, {LayerKind::Reshape, "reshape"},
    {LayerKind::Add, "add"},             {LayerKind::Concat, "concat"},   {LayerKind::Pad, "pad"},
};

int64_t spatialOut(int64_t size, int kernel, int stride, int padBefore, int padAfter, int dilation, bool ceil) {
  int64_t span = size + padBefore + padAfter - int64_t(dilation) * (kernel - 1) - 1;
  if (span < 0) return 0;
  int64_t out = (ceil ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil && (out - 1) * stride >= size + padBefore) out -= 1;
  return out;
}

[[noreturn]] void fail(const Layer& layer, const std::string& message) {
  throw Error("E_SHAPE", "layer '" + layer.name + "' (" + layerKindName(layer.kind) + "): " + message);
}

void requirePositive(const Layer& layer, int value, const char* what) {
  if (value < 1 || value > (1 << 20)) fail(layer, std::string(what) + " must be in 1…2^20, got " + std::to_string(value));
}

Shape inferShape(const Layer& layer) {
  const auto& in = layer.inputShapes;
  bool multi = layer.kind == LayerKind::Add || layer.kind == LayerKind::Concat;
  if (!multi && in.size() != 1) fail(layer, "takes exactly one input");
  if (multi && in.size() < 2) fail(layer, "takes two or more inputs");
  const Shape& x = in[0];
  auto requireRank = [&](size_t rank) {
    if (x.size() != rank) fail(layer, "expects rank " + std::to_string(rank) + " input, got " + shapeString(x));
  };
  switch (layer.kind) {
    case LayerKind::Dense: {
      requireRank(1);
      if (layer.weightShape.size() != 2) fail(layer, "weight must be [out, in]");
      if (layer.weightShape[0] < 1 || layer.weightShape[1] < 1) fail(layer, "weight " + shapeString(layer.weightShape) + " has an empty dimension");
      if (layer.weightShape[1] != x[0]) fail(layer, "weight " + shapeString(layer.weightShape) + " does not fit input " + shapeString(x));
      if (int64_t(layer.weight.size()) != shapeSize(layer.weightShape)) fail(layer, "weight data length does not match its shape");
      if (layer.hasBias() && int64_t(layer.bias.size()) != layer.weightShape[0]) fail(layer, "bias length does not match");
      return {layer.weightShape[0]};
    }
    case LayerKind::Conv2d: {
      requireRank(3);
      if (layer.weightShape.size() != 4) fail(layer, "weight must be [out, in/groups, kh, kw]");
      requirePositive(layer, layer.groups, "groups");
      for (int v : layer.stride) requirePositive(layer, v, "stride");
      for (int v : layer.dilation) requirePositive(layer, v, "dilation");
      for (int v : layer.padding) if (v < 0 || v > (1 << 20)) fail(layer, "padding out of range");
      const auto& w = layer.weightShape;
      if (w[0] < 1 || w[1] < 1 || w[2] < 1 || w[3] < 1) fail(layer, "weight has an empty dimension");
      if (w[1] * layer.groups != x[0]) fail(layer, "weight " + shapeString(w) + " with groups " + std::to_string(layer.groups) + " does not fit input " + shapeString(x));
      if (w[0] % layer.groups != 0) fail(layer, "output channels not divisible by groups");
      if (w[2] > (1 << 16) || w[3] > (1 << 16)) fail(layer, "kernel too large");
      if (int64_t(layer.weight.size()) != shapeSize(w)) fail(layer, "weight data length does not match its shape");
      if (layer.hasBias() && int64_t(layer.bias.size()) != w[0]) fail(layer, "bias length does not match");
      int64_t h = spatialOut(x[1], int(w[2]), layer.stride[0], layer.padding[0], layer.padding[2], layer.dilation[0], false);
      int64_t wd = spatialOut(x[2], int(w[3]), layer.stride[1], layer.padding[1], layer.padding[3], layer.dilation[1], false);
      if (h < 1 || wd < 1) fail(layer, "kernel does not fit the padded input");
      return {w[0], h, wd};
    }
    case LayerKind::MaxPool2d:
    case LayerKind::AvgPool2d: {
      requireRank(3);
      for (int v : layer.kernel) requirePositive(layer, v, "kernel");
      for (int v : layer.stride) requirePositive(layer, v, "stride");
      for (int v : layer.dilation) requirePositive(layer, v, "dilation");
      if (layer.padding[0] >= layer.kernel[0] || layer.padding[2] >= layer.kernel[0] || layer.padding[1] >= layer.kernel[1] ||
          layer.padding[3] >= layer.kernel[1] || layer.padding[0] < 0 || layer.padding[1] < 0 || layer.padding[2] < 0 || layer.padding[3] < 0) {
        fail(layer, "padding must be at least 0 and smaller than the kernel");
      }
      int dh = layer.kind == LayerKind::MaxPool2d ? layer.dilation[0] : 1;
      int dw = layer.kind == LayerKind::MaxPool2d ? layer.dilation[1] : 1;
      int64_t h = spatialOut(x[1], layer.kernel[0], layer.stride[0], layer.padding[0], layer.padding[2], dh, layer.ceilMode);
      int64_t w = spatialOut(x[2], layer.kernel[1], layer.stride[1], layer.padding[1], layer.padding[3], dw, layer.ceilMode);
      if (h < 1 || w < 1) fail(layer, "kernel does not fit the input");
      return {x[0], h, w};
    }
    case LayerKind::GlobalAvgPool:
      requireRank(3);
      return {x[0], 1, 1};
    case LayerKind::BatchNorm:
      if (x.empty() || int64_t(layer.scale.size()) != x[0] || layer.shift.size() != layer.scale.size()) {
        fail(layer, "scale/shift length does not match the input channels");
      }
      return x;
    case LayerKind::Relu: case LayerKind::LeakyRelu: case LayerKind::Tanh: case LayerKind::Sigmoid:
    case LayerKind::Elu: case LayerKind::Gelu:
      return x;
    case LayerKind::Flatten:
      return {shapeSize(x)};
    case LayerKind::Reshape:
      if (shapeSize(layer.outputShape) != shapeSize(x)) fail(layer, "cannot reshape " + shapeString(x) + " to " + shapeString(layer.outputShape));
      return layer.outputShape;
    case LayerKind::Add:
      for (const auto& s : in) if (s != x) fail(layer, "inputs have different shapes");
      return x;
    case LayerKind::Concat: {
      if (layer.axis < 0 || size_t(layer.axis) >= x.size()) fail(layer, "axis out of range");
      Shape out = x;
      out[layer.axis] = 0;
      for (const auto& s : in) {
        if (s.size() != x.size()) fail(layer, "inputs differ in rank");
        for (size_t d = 0; d < s.size(); ++d) if (int(d) != layer.axis && s[d] != x[d]) fail(layer, "inputs differ outside the axis");
        out[layer.axis] += s[layer.axis];
      }
      return out;
    }
    case LayerKind::Pad:
      requireRank(3);
      for (int v : layer.padding) if (v < 0 || v > (1 << 20)) fail(layer, "padding out of range");
      return {x[0], x[1] + layer.padding[0] + layer.padding[2], x[2] + layer.padding[1] + layer.padding[3]};
  }
  fail(layer, "unknown layer kind");
}

}  // namespace

LayerKind layerKindFromName(const std::string& name) {
  for (const auto& k : kKindNames) if (name == k.name) return k.kind;
  throw Error("E_UNSUPPORTED_OP", "unknown layer type '" + name + "'");
}

const char* layerKindName(LayerKind kind) {
  for (const auto& k : kKindNames) if (kind == k.kind) return k.name;
  return "unknown";
}

void validatePlan(const Plan& plan) {
  if (plan.inputShape.empty() || shapeSize(plan.inputShape) < 1) throw Error("E_SHAPE", "the input shape must be non-empty");
  if (plan.layers.empty()) throw Error("E_SHAPE", "a model needs at least one layer");
  if (plan.layers.size() > 100000) throw Error("E_TOO_LARGE", "more than 100000 layers");
  for (size_t i = 0; i < plan.layers.size(); ++i) {
    const Layer& layer = plan.layers[i];
    if (layer.inputs.size() != layer.inputShapes.size()) fail(layer, "inputs and inputShapes differ in length");
    for (size_t k = 0; k < layer.inputs.size(); ++k) {
      int j = layer.inputs[k];
      if (j < -1 || j >= int(i)) fail(layer, "input index " + std::to_string(j) + " is not an earlier layer");
      const Shape& expected = j < 0 ? plan.inputShape : plan.layers[j].outputShape;
      if (layer.inputShapes[k] != expected) fail(layer, "declared input shape does not match its producer");
    }
    for (const auto& s : layer.inputShapes) shapeSize(s);
    Shape out = inferShape(layer);
    if (shapeSize(out) < 1) fail(layer, "the output " + shapeString(out) + " has no elements");
    if (out != layer.outputShape) {
      fail(layer, "declared output shape " + shapeString(layer.outputShape) + " differs from the computed " + shapeString(out));
    }
  }
}

ConvGeometry convGeometry(const Layer& l) {
  const Shape& x = l.inputShapes[0];
  return ConvGeometry{int(x[0]), int(x[1]), int(x[2]),
                      int(l.outputShape[0]), int(l.outputShape[1]), int(l.outputShape[2]),
                      int(l.weightShape[2]), int(l.weightShape[3]),
                      l.stride[0], l.stride[1], l.padding[0], l.padding[1],
                      l.dilation[0], l.dilation[1], l.groups};
}

PoolGeometry poolGeometry(const Layer& l) {
  const Shape& x = l.inputShapes[0];
  bool isMax = l.kind == LayerKind::MaxPool2d;
  if (l.kind == LayerKind::GlobalAvgPool) {
    return PoolGeometry{int(x[0]), int(x[1]), int(x[2]), 1, 1, int(x[1]), int(x[2]), 1, 1, 0, 0, 0, 0, 1, 1, true};
  }
  return PoolGeometry{int(x[0]), int(x[1]), int(x[2]), int(l.outputShape[1]), int(l.outputShape[2]),
                      l.kernel[0], l.kernel[1], l.stride[0], l.stride[1],
                      l.padding[0], l.padding[1], l.padding[2], l.padding[3],
                      isMax ? l.dilation[0] : 1, isMax ? l.dilation[1] : 1, l.countIncludePad};
}

}  // namespace lrp
