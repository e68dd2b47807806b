// Rules as data: the parameters a user picked, compiled into groups of (weight, input) terms that the one
// generic rule step in relevance.cc executes. Adding a rule means adding a case to compileRule, nothing else.
#pragma once
#include <string>
#include <vector>

#include "plan.h"

namespace lrp {

enum class RuleKind { Lrp0, Epsilon, ZPlus, AlphaBeta, Gamma, Flat, WSquare, ZBox, Pass, Norm, Gradient };

struct RuleParams {
  RuleKind kind = RuleKind::Gradient;
  double epsilon = 0;     // epsilon / lrp0 denominator term
  double stabilizer = 0;  // every other rule's denominator term
  double gamma = 0;
  double alpha = 1, beta = 0;
  bool ignoreBias = false;
  float low = 0, high = 0;
  std::vector<float> lowTensor, highTensor;  // per-sample input-shaped bounds (zBox), empty = scalar
};

RuleKind ruleKindFromName(const std::string& name);
const char* ruleKindName(RuleKind kind);
// Throws E_RULE when `rule` does not apply to `layer`.
void checkRuleFits(const Layer& layer, const RuleParams& rule);

// Weight variants derived once per model and cached (see weight_cache.h).
enum class WeightVariant { Original, Positive, Negative, GammaPositive, GammaNegative, Squared, Ones };
enum class BiasVariant { None, Original, Positive, Negative, GammaPositive, GammaNegative, Squared };
// What a term multiplies the weights with: the layer input a, its positive/negative part, ones, or zBox bounds.
enum class InputVariant { Activation, Positive, Negative, Ones, Low, High };

struct RuleTerm {
  WeightVariant weight;
  InputVariant input;
  float sign;
};

// One stabilised denominator: z = Σ sign·W_t·in_t + bias, s = mask(R) / stab(z, epsilon),
// contribution = coefficient · Σ sign·in_t ⊙ W_tᵀ s.
struct RuleGroup {
  std::vector<RuleTerm> terms;
  BiasVariant bias;
  float coefficient;
  int maskSign;       // 0: none; +1: only outputs with z > 0; -1: only z < 0 (z = the layer's forward output)
  float epsilon;
  bool reuseForward;  // z equals the forward output already computed
};

struct RuleDescription {
  std::vector<RuleGroup> groups;
};

// Compiles a linear rule (dense/conv2d) into its description.
RuleDescription compileRule(const RuleParams& rule, bool layerHasBias);

}  // namespace lrp
