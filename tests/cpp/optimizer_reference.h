// Optimizer test settings shared by the CPU kernel tests and the GPU kernel
// tests (tests/cpp/gpu): every algorithm, and the hyperparameters of one step.
#pragma once

#include <cmath>

#include "common/optimizer.h"

namespace bnb::test {

inline constexpr OptimizerKind kOptimizerKinds[] = {
    OptimizerKind::kAdam, OptimizerKind::kMomentum, OptimizerKind::kRMSprop, OptimizerKind::kAdagrad,
    OptimizerKind::kLion, OptimizerKind::kAdEMAMix, OptimizerKind::kLamb,    OptimizerKind::kLars};

inline OptimizerHyper optimizer_hyper(int64_t step) {
  OptimizerHyper h{};
  h.beta1 = 0.9f;
  h.beta2 = 0.999f;
  h.beta3 = 0.9999f;
  h.alpha = 5.0f;
  h.eps = 1e-8f;
  h.weight_decay = 0.01f;
  h.lr = 1e-3f;
  h.gnorm_scale = 0.9f;
  h.bias1 = static_cast<float>(1.0 - std::pow(0.9, step));
  h.bias2 = static_cast<float>(std::sqrt(1.0 - std::pow(0.999, step)));
  h.step = step;
  return h;
}

}  // namespace bnb::test
