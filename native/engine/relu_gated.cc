// reluGatedLayers: the plan read backwards, each layer's output marked by whether its relevance vanishes where the
// output does (relu_gated.h).
#include "relu_gated.h"

namespace lrp {

namespace {

// True where every term of the rule multiplies the layer's input or one of its signed parts, so the relevance it sends
// is 0 wherever that input is 0.
bool scalesWithInput(const Layer& layer, const RuleParams& rule) {
  for (const RuleGroup& group : compileRule(rule, layer.hasBias()).groups)
    for (const RuleTerm& term : group.terms)
      if (term.input != InputVariant::Activation && term.input != InputVariant::Positive &&
          term.input != InputVariant::Negative)
        return false;
  return true;
}

}  // namespace

std::vector<bool> reluGatedLayers(const Plan& plan, const std::vector<RuleParams>* rules) {
  const int count = int(plan.layers.size());
  std::vector<std::vector<int>> readers(count);
  for (int i = 0; i < count; ++i)
    for (int j : plan.layers[i].inputs)
      if (j >= 0) readers[j].push_back(i);
  // vanishes[j]: the relevance reaching layer j's output is 0 wherever that output is 0. Readers come after the
  // layers they read, so one backward sweep sees each reader's answer first.
  std::vector<bool> vanishes(count, false);
  if (rules) {
    for (int j = count - 2; j >= 0; --j) {  // the last layer's relevance is the caller's
      bool all = true;
      for (int c : readers[j]) {
        const Layer& reader = plan.layers[c];
        switch (reader.kind) {
          case LayerKind::Dense: case LayerKind::Conv2d: all = scalesWithInput(reader, (*rules)[c]); break;
          case LayerKind::Add: case LayerKind::AvgPool2d: case LayerKind::GlobalAvgPool: break;  // a_k ⊙ …
          // Relevance sent only to elements equal to the reader's output (a ReLU's output equals its input where
          // that is 0): 0 there when it is 0 at the reader's output.
          case LayerKind::MaxPool2d: case LayerKind::Flatten: case LayerKind::Reshape: case LayerKind::Concat:
          case LayerKind::Pad: case LayerKind::Relu:
            all = vanishes[c];
            break;
          default: all = false; break;  // the output of a sigmoid, tanh, … or BatchNorm is not 0 where a is
        }
        if (!all) break;
      }
      vanishes[j] = all;
    }
  }
  std::vector<bool> gated(count, false);
  for (int i = 0; i + 1 < count; ++i) {
    const Layer& next = plan.layers[i + 1];
    gated[i] = next.kind == LayerKind::Relu && next.inputs.size() == 1 && next.inputs[0] == i &&
               readers[i].size() == 1 && (!rules || vanishes[i + 1]);
  }
  return gated;
}

}  // namespace lrp
