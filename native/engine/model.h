// The engine's model: the validated plan, its backend, and the cache of rule-derived weights.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "backend.h"
#include "plan.h"
#include "rule.h"

namespace lrp {

class Model {
 public:
  Model(Plan plan, std::unique_ptr<Backend> backend);
  const Plan& plan() const { return plan_; }
  Backend& backend() { return *backend_; }

  // Backend-resident weights / bias of `layer` under `variant` (γ for the gamma variants), derived and uploaded once.
  const float* weights(int layer, WeightVariant variant, float gamma);
  const float* bias(int layer, BiasVariant variant, float gamma);  // null for BiasVariant::None or no bias
  // Several weight variants stacked along the output axis ([T·out, …]), so that one GEMM computes them all.
  const float* stackedWeights(int layer, const std::vector<WeightVariant>& variants, float gamma);
  // Several signed weight variants side by side along each output's input axis ([out, T·in_per_out]: row o holds
  // sign_t·W_t[o, …] for t = 0 … T−1), so that one product over the inputs stacked the same way sums the terms.
  const float* inputStackedWeights(int layer, const std::vector<WeightVariant>& variants, const std::vector<float>& signs,
                                   float gamma);
  // Backend-resident per-channel scale (which 0) or shift (which 1) of an unmerged BatchNorm.
  const float* affine(int layer, int which);
  // Bytes of weights held: original, rule-derived, and the backend's packed/flipped copies.
  int64_t memoryBytes();

 private:
  using Key = std::tuple<int, int, int, float>;  // layer, kind (0 weight, 1 bias, 2 affine, 3 stacked, 4 input-stacked), variant(s), gamma
  // The backend-resident copy of makeHost()'s values under `key`, made and uploaded on first use.
  const float* cachedBuffer(const Key& key, const std::function<std::vector<float>()>& makeHost);
  const float* cached(const Key& key, const std::vector<float>& source, int variant, float gamma, bool isBias);

  Plan plan_;
  std::unique_ptr<Backend> backend_;
  std::mutex mutex_;
  std::map<Key, Buffer> cache_;
};

}  // namespace lrp
