// explain() and forward(): the forward pass that keeps what the relevance pass needs, then the relevance pass.
#pragma once
#include <cstdint>
#include <vector>

#include "model.h"
#include "rule.h"

namespace lrp {

enum class TargetMode { Argmax = 0, Indices = 1, OutputRelevance = 2 };

struct ExplainRequest {
  const float* input = nullptr;  // host, [batch, inputSize]
  int batch = 0;
  std::vector<RuleParams> rules;  // one per layer
  TargetMode targetMode = TargetMode::Argmax;
  std::vector<int32_t> targets;              // Indices: one per sample
  const float* outputRelevance = nullptr;    // OutputRelevance: host [batch, outputSize]
  float* relevance = nullptr;                // host out [batch, inputSize]
  float* logits = nullptr;                   // host out [batch, outputSize]
  int32_t* targetsOut = nullptr;             // host out [batch]
  double* layerSums = nullptr;               // host out [batch, layers, 2]
  double* inputSums = nullptr;               // optional host out [batch]: Σ of each sample's input relevance
  std::vector<float*> layerRelevance;        // optional host out per layer [batch, outputSize_i] (null entries: skip)
  int threads = 1;
};

// Validates the request against the model (rules fit, sizes) and runs it; throws lrp::Error.
void explain(Model& model, const ExplainRequest& request);
void forward(Model& model, const float* input, int batch, float* logits, int threads);

}  // namespace lrp
