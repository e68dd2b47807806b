// The plan: layers as data (kind, shapes, parameters, weights) in topological order, validated once.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace lrp {

enum class LayerKind {
  Dense, Conv2d, MaxPool2d, AvgPool2d, GlobalAvgPool, BatchNorm,
  Relu, LeakyRelu, Tanh, Sigmoid, Elu, Gelu,
  Flatten, Reshape, Add, Concat, Pad,
};

using Shape = std::vector<int64_t>;

// Largest element count of one tensor (per sample or per batch): what 32-bit indexing in kernels allows.
constexpr int64_t kMaxElements = (int64_t(1) << 31) - 1;

int64_t shapeSize(const Shape& shape);
std::string shapeString(const Shape& shape);

struct Layer {
  LayerKind kind = LayerKind::Relu;
  std::string name;
  std::vector<int> inputs;            // node indices; -1 is the model input
  std::vector<Shape> inputShapes;     // per sample
  Shape outputShape;                  // per sample

  // dense: weight [out, in]; conv2d: weight [out, in/groups, kh, kw]
  std::vector<float> weight;
  Shape weightShape;
  std::vector<float> bias;            // empty = no bias
  // batchNorm (unmerged): y = x * scale[c] + shift[c]
  std::vector<float> scale, shift;

  std::array<int, 2> kernel{1, 1};
  std::array<int, 2> stride{1, 1};
  std::array<int, 4> padding{0, 0, 0, 0};  // top, left, bottom, right
  std::array<int, 2> dilation{1, 1};
  int groups = 1;
  bool ceilMode = false;
  bool countIncludePad = true;
  float alpha = 0.f;       // leakyRelu slope, elu scale
  int approximate = 0;     // gelu: 0 erf, 1 tanh
  int axis = 0;            // concat axis, per sample (0 = channels)

  bool isLinear() const { return kind == LayerKind::Dense || kind == LayerKind::Conv2d; }
  bool hasBias() const { return !bias.empty(); }
};

struct Plan {
  Shape inputShape;
  std::vector<Layer> layers;
};

LayerKind layerKindFromName(const std::string& name);
const char* layerKindName(LayerKind kind);

// Recomputes every output shape from the parameters and checks weights, inputs and sizes; throws lrp::Error.
void validatePlan(const Plan& plan);

// Geometry helpers shared by the backends.
struct ConvGeometry {
  int inChannels, inHeight, inWidth;
  int outChannels, outHeight, outWidth;
  int kernelHeight, kernelWidth;
  int strideHeight, strideWidth;
  int padTop, padLeft;
  int dilationHeight, dilationWidth;
  int groups;
};

struct PoolGeometry {
  int channels, inHeight, inWidth, outHeight, outWidth;
  int kernelHeight, kernelWidth, strideHeight, strideWidth;
  int padTop, padLeft, padBottom, padRight;
  int dilationHeight, dilationWidth;
  bool countIncludePad;
};

ConvGeometry convGeometry(const Layer& layer);
PoolGeometry poolGeometry(const Layer& layer);

}  // namespace lrp
