// Model: derived weights (W⁺, W⁻, W+γW⁺, W², …) computed once per model and variant, then reused by every call.
#include "model.h"

#include "error.h"

namespace lrp {

Model::Model(Plan plan, std::unique_ptr<Backend> backend) : plan_(std::move(plan)), backend_(std::move(backend)) {
  validatePlan(plan_);
}

namespace {

float derive(int variant, bool isBias, float v, float gamma) {
  const float pos = v > 0.f ? v : 0.f, neg = v < 0.f ? v : 0.f;
  if (isBias) {
    switch (BiasVariant(variant)) {
      case BiasVariant::Original: return v;
      case BiasVariant::Positive: return pos;
      case BiasVariant::Negative: return neg;
      case BiasVariant::GammaPositive: return v + gamma * pos;
      case BiasVariant::GammaNegative: return v + gamma * neg;
      case BiasVariant::Squared: return v * v;
      case BiasVariant::None: return 0.f;
    }
  }
  switch (WeightVariant(variant)) {
    case WeightVariant::Original: return v;
    case WeightVariant::Positive: return pos;
    case WeightVariant::Negative: return neg;
    case WeightVariant::GammaPositive: return v + gamma * pos;
    case WeightVariant::GammaNegative: return v + gamma * neg;
    case WeightVariant::Squared: return v * v;
    case WeightVariant::Ones: return 1.f;
  }
  return v;
}

}  // namespace

const float* Model::cachedBuffer(const Key& key, const std::function<std::vector<float>()>& makeHost) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second.data();
  const std::vector<float> host = makeHost();
  Buffer buffer(*backend_, int64_t(host.size()));
  backend_->upload(buffer.data(), host.data(), int64_t(host.size()));
  const float* data = buffer.data();
  cache_.emplace(key, std::move(buffer));
  return data;
}

const float* Model::cached(const Key& key, const std::vector<float>& source, int variant, float gamma, bool isBias) {
  return cachedBuffer(key, [&] {
    std::vector<float> host(source.size());
    for (size_t i = 0; i < source.size(); ++i) host[i] = derive(variant, isBias, source[i], gamma);
    return host;
  });
}

const float* Model::weights(int layer, WeightVariant variant, float gamma) {
  if (variant == WeightVariant::Original && backend_->sharesHostMemory()) return plan_.layers[layer].weight.data();
  const bool usesGamma = variant == WeightVariant::GammaPositive || variant == WeightVariant::GammaNegative;
  return cached(Key{layer, 0, int(variant), usesGamma ? gamma : 0.f}, plan_.layers[layer].weight, int(variant), gamma, false);
}

const float* Model::bias(int layer, BiasVariant variant, float gamma) {
  if (variant == BiasVariant::None || !plan_.layers[layer].hasBias()) return nullptr;
  if (variant == BiasVariant::Original && backend_->sharesHostMemory()) return plan_.layers[layer].bias.data();
  const bool usesGamma = variant == BiasVariant::GammaPositive || variant == BiasVariant::GammaNegative;
  return cached(Key{layer, 1, int(variant), usesGamma ? gamma : 0.f}, plan_.layers[layer].bias, int(variant), gamma, true);
}

const float* Model::stackedWeights(int layer, const std::vector<WeightVariant>& variants, float gamma) {
  if (variants.size() == 1) return weights(layer, variants[0], gamma);
  int code = 0;
  bool usesGamma = false;
  for (WeightVariant v : variants) {
    code = code * 8 + int(v) + 1;
    usesGamma |= v == WeightVariant::GammaPositive || v == WeightVariant::GammaNegative;
  }
  return cachedBuffer(Key{layer, 3, code, usesGamma ? gamma : 0.f}, [&] {
    const std::vector<float>& source = plan_.layers[layer].weight;
    std::vector<float> host(source.size() * variants.size());
    for (size_t t = 0; t < variants.size(); ++t)
      for (size_t i = 0; i < source.size(); ++i) host[t * source.size() + i] = derive(int(variants[t]), false, source[i], gamma);
    return host;
  });
}

const float* Model::affine(int layer, int which) {
  const std::vector<float>& source = which == 0 ? plan_.layers[layer].scale : plan_.layers[layer].shift;
  if (backend_->sharesHostMemory()) return source.data();
  return cached(Key{layer, 2, which, 0.f}, source, int(WeightVariant::Original), 0.f, false);
}

const float* Model::inputStackedWeights(int layer, const std::vector<WeightVariant>& variants,
                                        const std::vector<float>& signs, float gamma) {
  int code = 0;
  bool usesGamma = false;
  for (size_t t = 0; t < variants.size(); ++t) {
    code = code * 16 + (int(variants[t]) + 1) * 2 + (signs[t] < 0.f ? 1 : 0);
    usesGamma |= variants[t] == WeightVariant::GammaPositive || variants[t] == WeightVariant::GammaNegative;
  }
  return cachedBuffer(Key{layer, 4, code, usesGamma ? gamma : 0.f}, [&] {
    const Layer& l = plan_.layers[layer];
    const std::vector<float>& source = l.weight;
    const size_t outputs = size_t(l.weightShape[0]), row = source.size() / outputs, terms = variants.size();
    std::vector<float> host(source.size() * terms);
    for (size_t o = 0; o < outputs; ++o)
      for (size_t t = 0; t < terms; ++t)
        for (size_t j = 0; j < row; ++j)
          host[(o * terms + t) * row + j] = signs[t] * derive(int(variants[t]), false, source[o * row + j], gamma);
    return host;
  });
}

int64_t Model::memoryBytes() {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t bytes = 0;
  for (const auto& layer : plan_.layers) bytes += int64_t(layer.weight.size() + layer.bias.size() + layer.scale.size() * 2) * 4;
  for (const auto& entry : cache_) bytes += entry.second.count() * 4;
  return bytes + backend_->derivedWeightBytes();
}

}  // namespace lrp
