// Which layers reach the rest of the model only through a ReLU that silences them: layers whose output z is read by
// the ReLU right after them alone, and whose relevance is 0 wherever that ReLU's output a = max(z, 0) is.
//
// When that holds: the relevance arriving at the ReLU is handed on unchanged to z, and it is 0 wherever a = 0 when
// every layer reading a sends relevance in proportion to the values it reads (ε, z⁺, γ, αβ and LRP-0 multiply by the
// input or its signed parts; sums and average pools by each input; max pooling, reshapes, padding and concatenation
// route relevance only to elements that equal their output, whose relevance obeys the same condition further on).
// Not where a reader's rule adds relevance that does not vanish with its input (flat, w², zᴮ's bounds), where a is
// the explained output (its relevance is the caller's), or where anything but the ReLU reads z.
//
// What it allows, both exact:
// - Keeping a alone, written over z (the CPU backend; executor.cc's fusedRelu). z and a differ only where a = 0, and
//   each use of z in the layer's rule is a quotient of the relevance, which the kernels define as 0 wherever the
//   relevance is (stabilizedDivide and its fused forms): the same bits. A convolution and its ReLU kept two outputs as
//   large as the layer's (34 MB each for vgg-cifar's first convolutions at batch 128).
// - Dropping the rule's terms restricted to outputs with z < 0 (γ's second group): their quotient is 0 everywhere, so
//   γ after a ReLU costs one transposed product instead of a stacked pair.
#pragma once

#include <vector>

#include "plan.h"
#include "rule.h"

namespace lrp {

// For each layer, true where layer i + 1 is a ReLU whose only input is layer i, nothing else reads layer i, and (with
// `rules`, one per layer, for a relevance pass; null for a forward pass alone, where only that structure counts) the
// relevance reaching layer i + 1 is 0 wherever its output is 0, by the argument above.
std::vector<bool> reluGatedLayers(const Plan& plan, const std::vector<RuleParams>* rules);

}  // namespace lrp
