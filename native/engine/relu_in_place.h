// Which layers may keep only max(z, 0) of their output z, written over z by the ReLU right after them.
//
// Why: a convolution (or a sum) and its ReLU kept two outputs as large as the layer's, z for the layer's own rule and
// a = max(z, 0) for the layers after. At batch 128, vgg-cifar's first two convolutions write 34 MB each twice.
//
// When it is exact: z and a differ only where a = 0. The relevance arriving at the ReLU is handed on unchanged to z,
// and it is 0 wherever a = 0 when every layer reading a sends relevance in proportion to the values it reads (ε, z⁺,
// γ, αβ and LRP-0 multiply by the input or its signed parts; sums and average pools by each input; max pooling,
// reshapes, padding and concatenation route relevance only to elements that equal their output, whose relevance
// obeys the same condition further on). Each use of z in the layer's own rule is a quotient of that relevance, which
// the kernels define as 0 wherever the relevance is 0 (stabilizedDivide and its fused forms), so reading a in place
// of z gives the same bits. Not where a reader's rule adds relevance that does not vanish with its input (flat, w²,
// zᴮ's bounds), where a is the explained output (its relevance is the caller's), or where anything but
// the ReLU reads z.
#pragma once

#include <vector>

#include "plan.h"
#include "rule.h"

namespace lrp {

// For each layer, true where its output may be overwritten by max(output, 0): layer i + 1 is a ReLU whose only input
// is layer i, nothing else reads layer i, and (with `rules`, one per layer, for a relevance pass; null for a forward
// pass alone) the relevance reaching layer i + 1 is 0 wherever its output is 0, by the argument above.
std::vector<bool> reluInPlaceLayers(const Plan& plan, const std::vector<RuleParams>* rules);

}  // namespace lrp
