// The executor: forward pass over the plan, initial relevance from the target, then the relevance pass from the
// output back to the input, one generic rule step for every dense/conv layer.
#include "executor.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "error.h"
#include "relu_gated.h"

namespace lrp {

namespace {

// Layers whose relevance rule hands the relevance on unchanged (pass and reshapes).
bool passesRelevanceUnchanged(LayerKind kind);

// A concat's output as [outer, axis, inner]: the products of the dimensions before and after its axis.
std::pair<int64_t, int64_t> concatSplit(const Layer& l) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < l.axis; ++d) outer *= l.outputShape[d];
  for (size_t d = l.axis + 1; d < l.outputShape.size(); ++d) inner *= l.outputShape[d];
  return {outer, inner};
}

class Pass {
 public:
  Pass(Model& model, int batch, int threads) : model_(model), be_(model.backend()), plan_(model.plan()), batch_(batch) {
    if (batch < 1) throw Error("E_SHAPE", "the batch must hold at least one sample");
    const int64_t limit = kMaxElements;
    if (shapeSize(plan_.inputShape) > limit / batch) throw Error("E_TOO_LARGE", "batch × input size exceeds 2^31 − 1 elements; use smaller chunks");
    for (const auto& layer : plan_.layers) {
      if (shapeSize(layer.outputShape) > limit / batch) {
        throw Error("E_TOO_LARGE", "layer '" + layer.name + "': batch × output size exceeds 2^31 − 1 elements; use smaller chunks");
      }
    }
    be_.setThreads(threads);
    acts_.resize(plan_.layers.size());
    actData_.resize(plan_.layers.size(), nullptr);
  }

  int64_t sampleSize(int j) const { return shapeSize(j < 0 ? plan_.inputShape : plan_.layers[j].outputShape); }
  const float* act(int j) const { return j < 0 ? input_.data() : actData_[j]; }

  void uploadInput(const float* host) {
    input_ = Buffer(be_, batch_ * sampleSize(-1));
    be_.upload(input_.data(), host, input_.count());
  }

  // The forward pass; `rules` (one per layer) when a relevance pass follows, null for the forward pass alone.
  void forward(const std::vector<RuleParams>* rules) {
    reluGated_ = reluGatedLayers(plan_, rules);
    for (int i = 0; i < int(plan_.layers.size()); ++i) forwardLayer(i);
  }

  const float* output() const { return actData_.back(); }
  int64_t outputSize() const { return sampleSize(int(plan_.layers.size()) - 1); }

  void relevance(const ExplainRequest& request, const float* initial) {
    const int count = int(plan_.layers.size());
    std::vector<Buffer> rel(count);
    Buffer relInput;
    rel[count - 1] = Buffer(be_, batch_ * outputSize());
    be_.upload(rel[count - 1].data(), initial, rel[count - 1].count());
    // Σ R arriving at each layer's output, per sample: the sums of the contributions sent to it (each summed once,
    // when it is made), so no layer's relevance is read a second time for its sum.
    std::vector<std::vector<double>> arriving(count, std::vector<double>(batch_, 0.0));
    be_.sumPerSample(rel[count - 1].data(), batch_, outputSize(), arriving[count - 1].data());
    for (int i = count - 1; i >= 0; --i) {
      const Layer& layer = plan_.layers[i];
      if (!rel[i]) rel[i] = Buffer(be_, batch_ * sampleSize(i));  // unreachable in a pruned graph; zero relevance
      for (int n = 0; n < batch_; ++n) request.layerSums[(int64_t(n) * count + i) * 2] = arriving[i][n];
      if (i < int(request.layerRelevance.size()) && request.layerRelevance[i]) {
        be_.download(request.layerRelevance[i], rel[i].data(), rel[i].count());
      }
      std::vector<double> outSums(batch_, 0.0);
      const int j0 = layer.inputs[0];
      Buffer& first = j0 < 0 ? relInput : rel[j0];
      if (passesRelevanceUnchanged(layer.kind) && !first) {
        // Activations, unmerged BatchNorm and reshapes hand their relevance on as it is: move the buffer.
        first = std::move(rel[i]);
        for (int n = 0; n < batch_; ++n) {
          request.layerSums[(int64_t(n) * count + i) * 2 + 1] = arriving[i][n];
          if (j0 >= 0) arriving[j0][n] += arriving[i][n];
        }
        acts_[i].reset();
        continue;
      }
      // Each input's contribution goes straight into its relevance buffer where that does not exist yet, else into
      // scratch added to it after. contribution() overwrites all of `out`: no zeroing pass first.
      const size_t inputs = layer.inputs.size();
      std::vector<Buffer> scratch(inputs);
      std::vector<float*> outs(inputs);
      for (size_t k = 0; k < inputs; ++k) {
        const int j = layer.inputs[k];
        Buffer& target = j < 0 ? relInput : rel[j];
        if (!target) {
          target = Buffer::uninitialized(be_, batch_ * sampleSize(j));
          outs[k] = target.data();
        } else {
          scratch[k] = Buffer::uninitialized(be_, batch_ * sampleSize(j));
          outs[k] = scratch[k].data();
        }
      }
      // Each contribution's per-sample sums: taken by its producer where it can (contributionSums_), else a pass of
      // their own here.
      std::vector<std::vector<double>> sums(inputs, std::vector<double>(batch_));
      std::vector<bool> summed(inputs, false);
      if (layer.kind == LayerKind::Add && inputs == 2) {
        // contribution()'s norm rule for both inputs of a sum of two, from one pass over R and z.
        be_.quotientTimesPair(rel[i].data(), actData_[i], float(request.rules[i].stabilizer), act(layer.inputs[0]),
                              act(layer.inputs[1]), outs[0], outs[1], batch_ * sampleSize(i));
      } else {
        for (size_t k = 0; k < inputs; ++k) {
          contributionSums_ = sums[k].data();
          contribution(i, int(k), request.rules[i], rel[i].data(), outs[k]);
          summed[k] = contributionSums_ == nullptr;
          contributionSums_ = nullptr;
        }
      }
      for (size_t k = 0; k < inputs; ++k) {
        const int j = layer.inputs[k];
        if (!summed[k]) be_.sumPerSample(outs[k], batch_, sampleSize(j), sums[k].data());
        for (int n = 0; n < batch_; ++n) {
          outSums[n] += sums[k][n];
          if (j >= 0) arriving[j][n] += sums[k][n];
        }
        if (scratch[k]) be_.add((j < 0 ? relInput : rel[j]).data(), scratch[k].data(), batch_ * sampleSize(j));
      }
      for (int n = 0; n < batch_; ++n) request.layerSums[(int64_t(n) * count + i) * 2 + 1] = outSums[n];
      rel[i].reset();
      acts_[i].reset();  // only this layer and its (already processed) consumers read it
    }
    if (!relInput) relInput = Buffer(be_, batch_ * sampleSize(-1));
    // Non-finite exactly where an element is (a double sum of floats cannot overflow): the caller's check and its
    // conservation report read these instead of the whole relevance.
    if (request.inputSums) be_.sumPerSample(relInput.data(), batch_, sampleSize(-1), request.inputSums);
    be_.download(request.relevance, relInput.data(), relInput.count());
  }

 private:
  void forwardLayer(int i) {
    const Layer& l = plan_.layers[i];
    const int64_t outSize = sampleSize(i);
    const float* x = act(l.inputs[0]);
    if (l.kind == LayerKind::Flatten || l.kind == LayerKind::Reshape) {
      actData_[i] = x;  // the same row-major data under another shape
      return;
    }
    if (actData_[i]) return;  // a ReLU its convolution already wrote (below)
    acts_[i] = Buffer::uninitialized(be_, batch_ * outSize);  // every forward operation writes all of it
    actData_[i] = acts_[i].data();
    float* y = acts_[i].data();
    const int64_t inSize = shapeSize(l.inputShapes[0]);
    switch (l.kind) {
      case LayerKind::Dense:
        be_.denseForward(batch_, int(inSize), int(outSize), x, model_.weights(i, WeightVariant::Original, 0),
                         model_.bias(i, BiasVariant::Original, 0), y, false, 1.f);
        break;
      case LayerKind::Conv2d: {
        // A ReLU right after (its only input this convolution) is written in the same pass, while each tile is in
        // cache: over the convolution's output where the relevance pass does not need it (reluGatedLayers), else
        // beside it.
        if (float* relu = fusedRelu(i)) {
          be_.convForwardRelu(convGeometry(l), batch_, x, model_.weights(i, WeightVariant::Original, 0),
                              model_.bias(i, BiasVariant::Original, 0), y, relu);
          break;
        }
        be_.convForward(convGeometry(l), batch_, x, model_.weights(i, WeightVariant::Original, 0),
                        model_.bias(i, BiasVariant::Original, 0), y, false, 1.f);
        break;
      }
      case LayerKind::MaxPool2d: be_.maxPoolForward(poolGeometry(l), batch_, x, y); break;
      case LayerKind::AvgPool2d:
      case LayerKind::GlobalAvgPool: be_.avgPoolForward(poolGeometry(l), batch_, x, y); break;
      case LayerKind::BatchNorm:
        be_.affineForward(batch_, int(l.inputShapes[0][0]), int(inSize / l.inputShapes[0][0]), model_.affine(i, 0),
                          model_.affine(i, 1), x, y);
        break;
      case LayerKind::Relu: case LayerKind::LeakyRelu: case LayerKind::Tanh: case LayerKind::Sigmoid:
      case LayerKind::Elu: case LayerKind::Gelu:
        be_.activationForward(l.kind, l.alpha, l.approximate, x, y, batch_ * inSize);
        break;
      case LayerKind::Flatten:
      case LayerKind::Reshape: break;  // aliased above
      case LayerKind::Add:
        if (l.inputs.size() == 2) {  // with a ReLU right after, as for convolutions
          be_.sumForward(x, act(l.inputs[1]), y, fusedRelu(i), batch_ * inSize);
          break;
        }
        be_.copy(y, x, batch_ * inSize);
        for (size_t k = 1; k < l.inputs.size(); ++k) be_.add(y, act(l.inputs[k]), batch_ * inSize);
        break;
      case LayerKind::Concat: {
        const auto [outer, inner] = concatSplit(l);
        const int64_t outBlock = l.outputShape[l.axis] * inner;
        int64_t offset = 0;
        for (size_t k = 0; k < l.inputs.size(); ++k) {
          const int64_t block = l.inputShapes[k][l.axis] * inner;
          be_.copyBlocks(batch_ * outer, block, act(l.inputs[k]), block, y + offset, outBlock, false);
          offset += block;
        }
        break;
      }
      case LayerKind::Pad: {
        const auto& s = l.inputShapes[0];
        be_.padForward(batch_, int(s[0]), int(s[1]), int(s[2]), l.padding.data(), x, y);
        break;
      }
    }
  }

  // The output of the ReLU right after layer i, registered as written, when that ReLU's only input is layer i (its
  // producer then writes both in one pass): layer i's own output where only max(z, 0) of it is needed (both layers
  // then read that one buffer, owned by layer i, which is released after both), else a buffer of its own; null where
  // no such ReLU follows.
  float* fusedRelu(int i) {
    const int next = i + 1;
    if (next >= int(plan_.layers.size()) || plan_.layers[next].kind != LayerKind::Relu ||
        plan_.layers[next].inputs.size() != 1 || plan_.layers[next].inputs[0] != i) {
      return nullptr;
    }
    if (reluGated_[i] && be_.supportsReluInPlace()) {
      actData_[next] = acts_[i].data();
      return acts_[i].data();
    }
    acts_[next] = Buffer::uninitialized(be_, batch_ * sampleSize(i));
    actData_[next] = acts_[next].data();
    return acts_[next].data();
  }

  // Relevance that layer i sends to its k-th input, written into `out` (every element; its contents on entry are
  // undefined).
  void contribution(int i, int k, const RuleParams& rule, const float* r, float* out) {
    const Layer& l = plan_.layers[i];
    const int64_t inSize = shapeSize(l.inputShapes[k]);
    const int64_t outSize = sampleSize(i);
    const float* x = act(l.inputs[k]);
    switch (l.kind) {
      case LayerKind::Dense:
      case LayerKind::Conv2d:
        linearRule(i, rule, x, r, out);
        return;
      case LayerKind::MaxPool2d: be_.maxPoolGradient(poolGeometry(l), batch_, x, r, out); return;
      case LayerKind::AvgPool2d:
      case LayerKind::GlobalAvgPool: {
        // Norm: R_in = a ⊙ Pᵀ (R / stab(P a)).
        Buffer s = Buffer::uninitialized(be_, batch_ * outSize), g = Buffer::uninitialized(be_, batch_ * inSize);
        be_.stabilizedDivide(r, actData_[i], nullptr, 0, float(rule.stabilizer), s.data(), s.count());
        be_.avgPoolGradient(poolGeometry(l), batch_, s.data(), g.data());
        be_.multiply(out, x, g.data(), g.count());
        return;
      }
      case LayerKind::Add: {
        // Norm with one shared denominator: R_k = a_k ⊙ R / stab(Σ a).
        be_.quotientTimes(r, actData_[i], float(rule.stabilizer), x, out, batch_ * outSize);
        return;
      }
      case LayerKind::Concat: {
        const auto [outer, inner] = concatSplit(l);
        int64_t offset = 0;
        for (int m = 0; m < k; ++m) offset += l.inputShapes[m][l.axis] * inner;
        const int64_t block = l.inputShapes[k][l.axis] * inner;
        be_.copyBlocks(batch_ * outer, block, r + offset, l.outputShape[l.axis] * inner, out, block, false);
        return;
      }
      case LayerKind::Pad: {
        const auto& s = l.inputShapes[0];
        be_.padCrop(batch_, int(s[0]), int(s[1]), int(s[2]), l.padding.data(), r, out);
        return;
      }
      default:
        // Pass (activations, BatchNorm) and reshapes: relevance goes through unchanged.
        be_.copy(out, r, batch_ * inSize);
        return;
    }
  }

  // Forward and transposed products of layer i with `stacked` weight sets of the layer's shape (T = stacked).
  void linearForward(int i, int stacked, const float* weights, const float* bias, const float* x, float* y) {
    const Layer& l = plan_.layers[i];
    if (l.kind == LayerKind::Dense) {
      be_.denseForward(batch_, int(l.weightShape[1]), int(l.weightShape[0]) * stacked, x, weights, bias, y, false, 1.f);
    } else {
      ConvGeometry g = convGeometry(l);
      g.outChannels *= stacked;
      be_.convForward(g, batch_, x, weights, bias, y, false, 1.f);
    }
  }

  // dx = in ⊙ (transposed product of s), in null: ones.
  void linearTransposedTimes(int i, int stacked, const float* weights, const float* s, const float* in, float* dx) {
    const Layer& l = plan_.layers[i];
    if (l.kind == LayerKind::Dense) {
      const int64_t count = int64_t(batch_) * l.weightShape[1];
      if (!in) return be_.denseTransposed(batch_, int(l.weightShape[1]), int(l.weightShape[0]) * stacked, s, weights, dx);
      Buffer c = Buffer::uninitialized(be_, count);
      be_.denseTransposed(batch_, int(l.weightShape[1]), int(l.weightShape[0]) * stacked, s, weights, c.data());
      be_.multiply(dx, in, c.data(), count);
    } else {
      ConvGeometry g = convGeometry(l);
      g.outChannels *= stacked;
      be_.convTransposedTimes(g, batch_, s, weights, in, dx);
    }
  }

  // The terms of a rule that multiply the same input, computed together: their weight sets are stacked along the
  // output axis so that one GEMM gives every term's z-part and one transposed GEMM gives Σ W_tᵀ s_t.
  struct Bucket {
    InputVariant input;
    std::vector<std::pair<int, int>> terms;  // (group, term) indices into the rule description
    std::vector<WeightVariant> weights;
  };

  // The generic rule step (see rule.h): for each group, z = Σ sign·W_t·in_t + b, s = mask(R)/stab(z),
  // R_in += coefficient · Σ sign·in_t ⊙ W_tᵀ s.
  void linearRule(int i, const RuleParams& rule, const float* x, const float* r, float* out) {
    const Layer& l = plan_.layers[i];
    RuleDescription desc = compileRule(rule, l.hasBias());
    if (reluGated_[i]) {
      // r is 0 wherever the output is ≤ 0 (relu_gated.h): a group restricted to outputs with z < 0 has s = 0.
      auto negativeOnly = [](const RuleGroup& group) { return group.maskSign < 0; };
      desc.groups.erase(std::remove_if(desc.groups.begin(), desc.groups.end(), negativeOnly), desc.groups.end());
    }
    const int64_t inSize = shapeSize(l.inputShapes[0]), outSize = sampleSize(i);
    const float gamma = float(rule.gamma);
    // a⁺ = a when a has no negative values (after a ReLU), and a⁻ is then zero: its terms drop out exactly.
    // Only rules with a⁺/a⁻ terms need the scan (ε and LRP-0 do not: one pass over the input saved).
    bool hasPositive = true, hasNegative = true, splitsSigns = false;
    for (const RuleGroup& group : desc.groups)
      for (const RuleTerm& term : group.terms)
        splitsSigns |= term.input == InputVariant::Positive || term.input == InputVariant::Negative;
    if (splitsSigns) be_.signSummary(x, batch_ * inSize, &hasPositive, &hasNegative);
    auto effectiveInput = [&](InputVariant v) {
      if (v == InputVariant::Positive && !hasNegative) return InputVariant::Activation;
      if (v == InputVariant::Negative && !hasPositive) return InputVariant::Activation;
      return v;
    };
    auto vanishes = [&](InputVariant v) {
      return (v == InputVariant::Positive && !hasPositive) || (v == InputVariant::Negative && !hasNegative);
    };
    // Stacking needs the output channels of one convolution group to be contiguous: not for grouped convolutions.
    const bool stack = l.kind == LayerKind::Dense || l.groups == 1;
    if (rule.kind == RuleKind::Gamma && !hasNegative && stack && !(l.hasBias() && rule.ignoreBias)) {
      gammaOnNonNegative(i, rule, x, r, out);
      return;
    }
    std::vector<Bucket> forwardBuckets, transposedBuckets;
    auto place = [&](std::vector<Bucket>& buckets, InputVariant input, int g, int t, WeightVariant w) {
      for (auto& b : buckets) {
        if (stack && b.input == input) {
          b.terms.emplace_back(g, t);
          b.weights.push_back(w);
          return;
        }
      }
      buckets.push_back(Bucket{input, {{g, t}}, {w}});
    };
    for (int g = 0; g < int(desc.groups.size()); ++g) {
      for (int t = 0; t < int(desc.groups[g].terms.size()); ++t) {
        const RuleTerm& term = desc.groups[g].terms[t];
        if (vanishes(term.input)) continue;
        const InputVariant input = effectiveInput(term.input);
        if (!desc.groups[g].reuseForward) place(forwardBuckets, input, g, t, term.weight);
        place(transposedBuckets, input, g, t, term.weight);
      }
    }

    Buffer inputs[6], bounds[2];
    auto inputFor = [&](InputVariant v) -> const float* {
      if (v == InputVariant::Activation) return x;
      Buffer& b = inputs[int(v)];
      if (!b) {
        b = Buffer(be_, batch_ * inSize);
        const float* bound = nullptr;
        float scalar = 0.f;
        if (v == InputVariant::Low || v == InputVariant::High) {
          const bool low = v == InputVariant::Low;
          const std::vector<float>& tensor = low ? rule.lowTensor : rule.highTensor;
          scalar = low ? rule.low : rule.high;
          if (!tensor.empty()) {
            bounds[low ? 0 : 1] = Buffer(be_, inSize);
            be_.upload(bounds[low ? 0 : 1].data(), tensor.data(), inSize);
            bound = bounds[low ? 0 : 1].data();
          }
        }
        be_.inputVariant(v, batch_, inSize, x, bound, scalar, b.data());
      }
      return b.data();
    };

    if (stacksInputs(l, desc, forwardBuckets, transposedBuckets)) {
      inputStackedRule(i, desc.groups[0], forwardBuckets, gamma, inputFor, r, out);
      return;
    }

    const int channels = int(l.outputShape[0]);
    const int inner = int(outSize / channels);
    std::vector<Buffer> stabilized(desc.groups.size());
    Buffer z;
    // One group whose s is used once, unscaled, in a convolution's product onto an input (ε, LRP-0, z⁺): the backend
    // computes s where it reads it (convTransposedQuotientTimes) instead of in a pass of its own. quotientZ is that
    // group's z, kept until then.
    const float* quotientZ = nullptr;
    const bool fuseQuotient =
        l.kind == LayerKind::Conv2d && desc.groups.size() == 1 && transposedBuckets.size() == 1 &&
        transposedBuckets[0].weights.size() == 1 && transposedBuckets[0].input != InputVariant::Ones &&
        desc.groups[0].coefficient * desc.groups[0].terms[transposedBuckets[0].terms[0].second].sign == 1.f;
    // One group whose z is one product with sign +1 (z⁺ after a ReLU, w², flat): compute it with its bias straight
    // into z, without the separate z-part, zeroing, copy and bias passes of the general case below.
    if (desc.groups.size() == 1 && !desc.groups[0].reuseForward && forwardBuckets.size() == 1 &&
        forwardBuckets[0].weights.size() == 1 && desc.groups[0].terms[forwardBuckets[0].terms[0].second].sign == 1.f) {
      const RuleGroup& group = desc.groups[0];
      const Bucket& bucket = forwardBuckets[0];
      z = Buffer::uninitialized(be_, batch_ * outSize);
      linearForward(i, 1, model_.weights(i, bucket.weights[0], gamma), model_.bias(i, group.bias, gamma),
                    inputFor(bucket.input), z.data());
      if (fuseQuotient) {
        quotientZ = z.data();
      } else {
        stabilized[0] = Buffer::uninitialized(be_, batch_ * outSize);
        be_.stabilizedDivide(r, z.data(), actData_[i], group.maskSign, group.epsilon, stabilized[0].data(), stabilized[0].count());
        z.reset();
      }
      forwardBuckets.clear();
    }

    // z-parts of every term that needs one: Zb = stacked(W_t) · in_b, layout [batch, T, outSize].
    std::vector<Buffer> zParts(forwardBuckets.size());
    for (size_t b = 0; b < forwardBuckets.size(); ++b) {
      const Bucket& bucket = forwardBuckets[b];
      const int T = int(bucket.weights.size());
      zParts[b] = Buffer::uninitialized(be_, batch_ * T * outSize);
      linearForward(i, T, model_.stackedWeights(i, bucket.weights, gamma), nullptr, inputFor(bucket.input), zParts[b].data());
    }
    for (int g = 0; g < int(desc.groups.size()); ++g) {
      if (stabilized[g] || quotientZ) continue;  // the single-product case above
      const RuleGroup& group = desc.groups[g];
      const float* zg = actData_[i];
      if (!group.reuseForward) {
        if (!z) z = Buffer::uninitialized(be_, batch_ * outSize);
        be_.fill(z.data(), 0.f, z.count());
        for (size_t b = 0; b < forwardBuckets.size(); ++b) {
          const Bucket& bucket = forwardBuckets[b];
          const int T = int(bucket.weights.size());
          for (int k = 0; k < T; ++k) {
            if (bucket.terms[k].first != g) continue;
            const float sign = group.terms[bucket.terms[k].second].sign;
            be_.copyBlocks(batch_, outSize, zParts[b].data() + k * outSize, T * outSize, z.data(), outSize, true, sign);
          }
        }
        if (const float* bias = model_.bias(i, group.bias, gamma)) be_.addChannelBias(batch_, channels, inner, bias, 1.f, z.data());
        zg = z.data();
      }
      if (fuseQuotient) {
        quotientZ = zg;
        continue;
      }
      stabilized[g] = Buffer::uninitialized(be_, batch_ * outSize);
      be_.stabilizedDivide(r, zg, actData_[i], group.maskSign, group.epsilon, stabilized[g].data(), stabilized[g].count());
    }
    zParts.clear();
    if (fuseQuotient) {
      const Bucket& bucket = transposedBuckets[0];
      const RuleGroup& group = desc.groups[0];
      ConvGeometry g = convGeometry(l);
      be_.convTransposedQuotientTimes(g, batch_, Quotient{r, quotientZ, actData_[i], group.maskSign, group.epsilon},
                                      model_.stackedWeights(i, bucket.weights, gamma), inputFor(bucket.input), out,
                                      contributionSums_);
      contributionSums_ = nullptr;  // taken: out is final here
      return;
    }
    z.reset();

    // R_in += in_b ⊙ stacked(W_t)ᵀ · [coefficient_g · sign_t · s_g]_t for every input bucket b: the first bucket's
    // product written to R_in directly, the others added.
    if (transposedBuckets.empty()) be_.fill(out, 0.f, batch_ * inSize);  // every term vanished
    Buffer c;
    bool first = true;
    for (const Bucket& bucket : transposedBuckets) {
      const int T = int(bucket.weights.size());
      const float* s;
      Buffer stackedS;
      const auto [g0, t0] = bucket.terms[0];
      const float scale0 = desc.groups[g0].coefficient * desc.groups[g0].terms[t0].sign;
      if (T == 1 && scale0 == 1.f) {
        s = stabilized[g0].data();
      } else {
        stackedS = Buffer::uninitialized(be_, batch_ * T * outSize);
        for (int k = 0; k < T; ++k) {
          const auto [g, t] = bucket.terms[k];
          const float scale = desc.groups[g].coefficient * desc.groups[g].terms[t].sign;
          be_.copyBlocks(batch_, outSize, stabilized[g].data(), outSize, stackedS.data() + k * outSize, T * outSize, false, scale);
        }
        s = stackedS.data();
      }
      const float* in = bucket.input == InputVariant::Ones ? nullptr : inputFor(bucket.input);
      if (first) {
        linearTransposedTimes(i, T, model_.stackedWeights(i, bucket.weights, gamma), s, in, out);
      } else {
        if (!c) c = Buffer::uninitialized(be_, batch_ * inSize);
        linearTransposedTimes(i, T, model_.stackedWeights(i, bucket.weights, gamma), s, nullptr, c.data());
        be_.multiplyAccumulate(out, in, c.data(), 1.f, c.count());
      }
      first = false;
    }
  }

  // True for one group of a convolution whose terms each multiply an input of their own (z⁺ or zᴮ on an input with
  // both signs, such as the RGB stem): inputStackedRule's case.
  static bool stacksInputs(const Layer& l, const RuleDescription& desc, const std::vector<Bucket>& forwardBuckets,
                           const std::vector<Bucket>& transposedBuckets) {
    if (l.kind != LayerKind::Conv2d || l.groups != 1 || desc.groups.size() != 1 || desc.groups[0].reuseForward ||
        forwardBuckets.size() < 2 || transposedBuckets.size() != forwardBuckets.size())
      return false;
    for (size_t b = 0; b < forwardBuckets.size(); ++b) {
      const Bucket &f = forwardBuckets[b], &t = transposedBuckets[b];
      if (f.weights.size() != 1 || t.weights.size() != 1 || f.input != t.input || f.terms != t.terms ||
          f.input == InputVariant::Ones)
        return false;
    }
    return true;
  }

  // z = Σ sign_t·W_t·in_t + b and R_in = coefficient · Σ sign_t·in_t ⊙ W_tᵀ s as one convolution and one transposed
  // product: the T inputs side by side as one input of T·C channels, and [sign_t·W_t]_t as one kernel over them.
  // Term by term, each input's product wrote a z-part as large as the output, summed into z in passes of their own,
  // and each transposed product read s again: for the RGB stem at batch 128, 67 MB per pass.
  template <class InputFor>
  void inputStackedRule(int i, const RuleGroup& group, const std::vector<Bucket>& buckets, float gamma,
                        const InputFor& inputFor, const float* r, float* out) {
    const Layer& l = plan_.layers[i];
    const int terms = int(buckets.size());
    const int64_t inSize = shapeSize(l.inputShapes[0]), outSize = sampleSize(i);
    Buffer inputs = Buffer::uninitialized(be_, batch_ * terms * inSize);
    std::vector<WeightVariant> variants;
    std::vector<float> signs;
    for (int t = 0; t < terms; ++t) {
      be_.copyBlocks(batch_, inSize, inputFor(buckets[t].input), inSize, inputs.data() + t * inSize, terms * inSize, false);
      variants.push_back(buckets[t].weights[0]);
      signs.push_back(group.terms[buckets[t].terms[0].second].sign);
    }
    const float* weights = model_.inputStackedWeights(i, variants, signs, gamma);
    ConvGeometry g = convGeometry(l);
    g.inChannels *= terms;
    Buffer z;
    const float* zData = nullptr;
    const int activation = forwardTermBesideBounds(group, buckets);
    if (activation >= 0) {
      // zᴮ: z = W·a − W⁺·L − W⁻·H. W·a is the forward output less its bias (or its ReLU, relu_gated.h, where R is 0
      // elsewhere), and the bound terms are the same in every sample: one sample's worth, less the bias, added to the
      // forward output in place (this step is its last reader). The batch's stacked convolution (three times the
      // layer's products) becomes one sample's and a pass over z.
      Buffer one = Buffer::uninitialized(be_, terms * inSize), bounds = Buffer::uninitialized(be_, outSize);
      be_.copy(one.data(), inputs.data(), terms * inSize);
      be_.fill(one.data() + activation * inSize, 0.f, inSize);
      be_.convForward(g, 1, one.data(), weights, nullptr, bounds.data(), false, 1.f);
      if (const float* bias = model_.bias(i, BiasVariant::Original, 0)) {
        const int channels = int(l.outputShape[0]);
        be_.addChannelBias(1, channels, int(outSize / channels), bias, -1.f, bounds.data());
      }
      float* y = acts_[i].data();
      be_.copyBlocks(batch_, outSize, bounds.data(), 0, y, outSize, true, 1.f);
      zData = y;
    } else {
      z = Buffer::uninitialized(be_, batch_ * outSize);
      be_.convForward(g, batch_, inputs.data(), weights, model_.bias(i, group.bias, gamma), z.data(), false, 1.f);
      zData = z.data();
    }
    Buffer parts = Buffer::uninitialized(be_, batch_ * terms * inSize);
    be_.convTransposedQuotientTimes(g, batch_, Quotient{r, zData, actData_[i], group.maskSign, group.epsilon}, weights,
                                    inputs.data(), parts.data());
    for (int t = 0; t < terms; ++t)
      be_.copyBlocks(batch_, inSize, parts.data() + t * inSize, terms * inSize, out, inSize, t > 0, group.coefficient);
  }

  // The bucket whose term is the layer's own product W·a (weights and sign as the forward pass's), where every other
  // term multiplies a bound that is the same in every sample (zᴮ's L and H) and the group has no bias: its z is the
  // forward output less the bias plus one sample's bound terms. −1 otherwise.
  static int forwardTermBesideBounds(const RuleGroup& group, const std::vector<Bucket>& buckets) {
    if (group.bias != BiasVariant::None || group.maskSign != 0) return -1;
    int activation = -1;
    for (int t = 0; t < int(buckets.size()); ++t) {
      const Bucket& b = buckets[t];
      if (b.input == InputVariant::Low || b.input == InputVariant::High) continue;
      if (b.input != InputVariant::Activation || activation >= 0 || b.weights[0] != WeightVariant::Original ||
          group.terms[b.terms[0].second].sign != 1.f)
        return -1;
      activation = t;
    }
    return activation;
  }

  // The γ rule on an input without negative values (after a ReLU), from one extra product instead of two. With
  // y = W·a + b the forward output and Q = W⁺·a + b⁺, the two denominators are
  //   z₁ = (W + γW⁺)·a + b + γb⁺ = y + γ·Q            (used where y > 0; Q ≥ 0, so no cancellation)
  //   z₂ = (W + γW⁻)·a + b + γb⁻ = (1 + γ)·y − γ·Q    (used where y < 0; both terms ≤ 0, no cancellation)
  // since W⁻·a + b⁻ = y − Q. The transposed step is the general one: R_in = a ⊙ [W + γW⁺; W + γW⁻]ᵀ·[s₁; s₂].
  void gammaOnNonNegative(int i, const RuleParams& rule, const float* x, const float* r, float* out) {
    const int64_t outSize = sampleSize(i), count = batch_ * outSize;
    const float gamma = float(rule.gamma), epsilon = float(rule.stabilizer);
    const float* y = actData_[i];
    Buffer q = Buffer::uninitialized(be_, count);
    linearForward(i, 1, model_.weights(i, WeightVariant::Positive, gamma), model_.bias(i, BiasVariant::Positive, gamma), x,
                  q.data());
    if (reluGated_[i]) {
      // R is 0 wherever y ≤ 0 (relu_gated.h), so s₂ = 0: R_in = a ⊙ (W + γW⁺)ᵀ·s₁, one transposed product.
      Buffer s = Buffer::uninitialized(be_, count);
      be_.gammaPositiveQuotient(count, y, q.data(), r, gamma, epsilon, s.data());
      q.reset();
      linearTransposedTimes(i, 1, model_.weights(i, WeightVariant::GammaPositive, gamma), s.data(), x, out);
      return;
    }
    // s = [s₁; s₂] per sample, the stacked layout of the transposed product, in one pass over y, q and R.
    Buffer s = Buffer::uninitialized(be_, 2 * count);
    be_.gammaQuotients(batch_, outSize, y, q.data(), r, gamma, epsilon, s.data());
    q.reset();
    const std::vector<WeightVariant> weights{WeightVariant::GammaPositive, WeightVariant::GammaNegative};
    linearTransposedTimes(i, 2, model_.stackedWeights(i, weights, gamma), s.data(), x, out);
  }

  Model& model_;
  Backend& be_;
  const Plan& plan_;
  const int batch_;
  Buffer input_;
  std::vector<Buffer> acts_;           // layer outputs this pass owns
  std::vector<const float*> actData_;  // every layer's output (reshapes alias their input)
  std::vector<bool> reluGated_;        // per layer: reaches the rest only through a ReLU that silences it (relu_gated.h)
  // Where contribution() may write the per-sample sums of its output (one per sample); it sets this to null once it
  // has (the caller then skips its own pass over the output).
  double* contributionSums_ = nullptr;
};

bool passesRelevanceUnchanged(LayerKind kind) {
  switch (kind) {
    case LayerKind::Relu: case LayerKind::LeakyRelu: case LayerKind::Tanh: case LayerKind::Sigmoid:
    case LayerKind::Elu: case LayerKind::Gelu: case LayerKind::BatchNorm: case LayerKind::Flatten: case LayerKind::Reshape:
      return true;
    default:
      return false;
  }
}

std::vector<float> initialRelevance(const ExplainRequest& request, int64_t classes) {
  if (classes < 1) throw Error("E_SHAPE", "the model has no outputs to explain");
  std::vector<float> r(size_t(request.batch * classes), 0.f);
  for (int n = 0; n < request.batch; ++n) {
    const float* logits = request.logits + n * classes;
    if (request.targetMode == TargetMode::OutputRelevance) {
      for (int64_t k = 0; k < classes; ++k) r[n * classes + k] = request.outputRelevance[n * classes + k];
      request.targetsOut[n] = -1;
      continue;
    }
    int64_t target = 0;
    if (request.targetMode == TargetMode::Argmax) {
      for (int64_t k = 1; k < classes; ++k) if (logits[k] > logits[target]) target = k;
    } else {
      target = request.targets[n];
      if (target < 0 || target >= classes) throw Error("E_TARGET", "target " + std::to_string(target) + " out of range");
    }
    r[n * classes + target] = logits[target];
    request.targetsOut[n] = int32_t(target);
  }
  return r;
}

}  // namespace

void explain(Model& model, const ExplainRequest& request) {
  const Plan& plan = model.plan();
  if (request.rules.size() != plan.layers.size()) {
    throw Error("E_RULE", "expected " + std::to_string(plan.layers.size()) + " rules, got " + std::to_string(request.rules.size()));
  }
  for (size_t i = 0; i < plan.layers.size(); ++i) checkRuleFits(plan.layers[i], request.rules[i]);
  if (request.targetMode == TargetMode::Indices && int(request.targets.size()) != request.batch) {
    throw Error("E_TARGET", "expected one target per sample");
  }
  Pass pass(model, request.batch, request.threads);
  pass.uploadInput(request.input);
  pass.forward(&request.rules);
  const int64_t classes = pass.outputSize();
  model.backend().download(request.logits, pass.output(), request.batch * classes);
  const std::vector<float> initial = initialRelevance(request, classes);
  pass.relevance(request, initial.data());
}

void forward(Model& model, const float* input, int batch, float* logits, int threads) {
  Pass pass(model, batch, threads);
  pass.uploadInput(input);
  pass.forward(nullptr);
  model.backend().download(logits, pass.output(), batch * pass.outputSize());
}

}  // namespace lrp
