// The fused optimizer updates of bitsandbytes (32-bit states and 8-bit
// blockwise states), torch-free: the algorithm names, the kernel arguments and
// the per-element math. The CPU kernels and the CUDA/HIP kernels both call
// update_element<>() below, so every backend computes the same fp32 steps.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "format.h"  // BNB_HOST_DEVICE, kOptimizerBlocksize (256)
#include "half.h"    // DType

namespace bnb {

enum class OptimizerKind : int {
  kAdam = 0,      // adam (Adam and AdamW: decoupled weight decay)
  kMomentum = 1,  // momentum (SGD)
  kRMSprop = 2,
  kAdagrad = 3,
  kLion = 4,
  kAdEMAMix = 5,  // state1 holds (m1, m2): 2n elements
  kLamb = 6,      // adam with a trust-ratio (max_unorm) scale
  kLars = 7,      // momentum with a trust-ratio (max_unorm) scale
};

// "adam", "momentum", "rmsprop", "adagrad", "lion", "ademamix", "lamb", "lars".
inline bool parse_optimizer_name(const char* s, OptimizerKind* out) {
  struct Entry {
    const char* name;
    OptimizerKind kind;
  };
  static constexpr Entry kNames[] = {
      {"adam", OptimizerKind::kAdam},       {"momentum", OptimizerKind::kMomentum},
      {"rmsprop", OptimizerKind::kRMSprop}, {"adagrad", OptimizerKind::kAdagrad},
      {"lion", OptimizerKind::kLion},       {"ademamix", OptimizerKind::kAdEMAMix},
      {"lamb", OptimizerKind::kLamb},       {"lars", OptimizerKind::kLars},
  };
  for (const Entry& e : kNames) {
    if (std::strcmp(s, e.name) == 0) {
      *out = e.kind;
      return true;
    }
  }
  return false;
}

BNB_HOST_DEVICE constexpr bool has_state2(OptimizerKind k) {
  return k == OptimizerKind::kAdam || k == OptimizerKind::kLamb || k == OptimizerKind::kAdEMAMix;
}
// Weight decay applied to p directly (p *= 1 - lr*wd) rather than added to g.
BNB_HOST_DEVICE constexpr bool decoupled_decay(OptimizerKind k) {
  return k == OptimizerKind::kAdam || k == OptimizerKind::kLamb || k == OptimizerKind::kAdEMAMix ||
         k == OptimizerKind::kLion;
}
// The 8-bit kernels have no trust ratio: lamb runs as adam and lars as momentum.
BNB_HOST_DEVICE constexpr OptimizerKind blockwise_kind(OptimizerKind k) {
  return k == OptimizerKind::kLamb ? OptimizerKind::kAdam : k == OptimizerKind::kLars ? OptimizerKind::kMomentum : k;
}

// Scalars of one step. bias1 = 1 - beta1^step, bias2 = sqrt(1 - beta2^step)
// (computed in double by the binding). For momentum/lars the beta1 slot is the
// momentum, for rmsprop it is the smoothing constant alpha.
struct OptimizerHyper {
  float beta1, beta2, beta3, alpha, eps, weight_decay, lr, gnorm_scale;
  float bias1, bias2;
  int64_t step;
  bool skip_zeros;
};

// optimizer_update_32bit: fp32 states, updated in place with p and read from g.
struct Optimizer32bitArgs {
  OptimizerKind kind;
  DType dtype;    // of g and p
  const void* g;  // n elements
  void* p;        // n elements
  float* state1;  // n (2n for ademamix: m1 then m2)
  float* state2;  // n, or nullptr for one-state algorithms
  int64_t n;
  OptimizerHyper h;
  // Trust ratio (max_unorm > 0): the unorm pass writes sum(u^2) to *unorm_sum, and
  // the update scales u by unorm_scale(*unorm_sum, max_unorm, param_norm).
  float* unorm_sum;  // nullptr without max_unorm
  float max_unorm;
  float param_norm;
};

// min(1, max_unorm * param_norm / ||u||), 1 when max_unorm is 0.
BNB_HOST_DEVICE inline float unorm_scale(float unorm_sum, float max_unorm, float param_norm) {
  if (!(max_unorm > 0.0f)) return 1.0f;
  const float unorm = sqrtf(unorm_sum);
  const float limit = max_unorm * param_norm;
  return unorm > limit ? limit / unorm : 1.0f;
}

// optimizer_update_8bit_blockwise: uint8 states, one fp32 absmax per 256
// elements; mids* are the 255 midpoints of the sorted 256-entry maps (nearest
// code = number of midpoints below the value, ties to the lower code).
struct Optimizer8bitArgs {
  OptimizerKind kind;
  DType dtype;
  const void* g;
  void* p;
  uint8_t* state1;  // n (2n for ademamix)
  uint8_t* state2;  // n, or nullptr
  const float* qmap1;
  const float* qmap2;  // nullptr for one-state algorithms
  const float* mids1;  // 255 midpoints of qmap1
  const float* mids2;
  float* absmax1;  // num_blocks(n, 256) (twice that for ademamix: m1's then m2's)
  float* absmax2;
  int64_t n;
  int zero1;  // index of the exact 0 of qmap1 when negatives precede it and positives follow (signed map), else -1
  OptimizerHyper h;
};

// Builds the 255 midpoints of a sorted 256-entry code.
inline void code_midpoints(const float* code, float* mids) {
  for (int i = 0; i < 255; ++i) mids[i] = (code[i] + code[i + 1]) * 0.5f;
}

// Index of a signed map's exact zero (see Optimizer8bitArgs::zero1), or -1.
inline int signed_zero_index(const float* code) {
  for (int i = 1; i < 255; ++i)
    if (code[i] == 0.0f && code[i - 1] < 0.0f && code[i + 1] > 0.0f) return i;
  return -1;
}

namespace {  // internal linkage: the CPU paths compile this with different ISA flags

// Nearest code by a branch-free binary search of the midpoints: 8 steps, each a
// compare and an add. NaN goes to index 0.
BNB_HOST_DEVICE inline int nearest_code(const float* mids, float x) {
  int pos = 0;
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
#pragma unroll
#endif
  for (int s = 128; s > 0; s >>= 1) pos += (mids[pos + s - 1] < x) ? s : 0;
  return pos;
}

// With a signed map, a nonzero value never encodes as 0: a negative goes one
// code down and a positive one code up, so momentum keeps its sign.
BNB_HOST_DEVICE inline int fix_sign(int idx, int zero, float x) {
  if (idx == zero) idx += (x < 0.0f) ? -1 : (x > 0.0f ? 1 : 0);
  return idx;
}

// Whether element i takes part in this step: a non-finite gradient (or a zero
// one under skip_zeros) leaves the parameter and its states untouched.
BNB_HOST_DEVICE inline bool active_grad(const OptimizerHyper& h, float g) {
  const bool finite = (g - g) == 0.0f;  // false for NaN and +-Inf
  return finite && !(h.skip_zeros && g == 0.0f);
}

// One element of one step. g is the raw gradient (times gnorm_scale here), p
// the fp32 parameter; s1/s1b/s2 the states (s1b: ademamix' m2). Updates the
// states in place and returns the direction u with p_new = decay(p) - lr*u
// (before any trust-ratio scale). The caller checks active_grad() first.
template <OptimizerKind K>
BNB_HOST_DEVICE inline float update_element(const OptimizerHyper& h, float g, float p, float& s1, float& s1b,
                                            float& s2) {
  g = g * h.gnorm_scale;
  if constexpr (!decoupled_decay(K)) g = g + h.weight_decay * p;
  if constexpr (K == OptimizerKind::kAdam || K == OptimizerKind::kLamb) {
    s1 = h.beta1 * s1 + (1.0f - h.beta1) * g;
    s2 = h.beta2 * s2 + (1.0f - h.beta2) * (g * g);
    return (h.bias2 / h.bias1) * (s1 / (sqrtf(s2) + h.eps * h.bias2));
  } else if constexpr (K == OptimizerKind::kAdEMAMix) {
    s1 = h.beta1 * s1 + (1.0f - h.beta1) * g;
    s1b = h.beta3 * s1b + (1.0f - h.beta3) * g;
    s2 = h.beta2 * s2 + (1.0f - h.beta2) * (g * g);
    return (s1 / h.bias1 + h.alpha * s1b) / (sqrtf(s2) / h.bias2 + h.eps);
  } else if constexpr (K == OptimizerKind::kMomentum || K == OptimizerKind::kLars) {
    s1 = h.step == 1 ? g : h.beta1 * s1 + g;
    return s1;
  } else if constexpr (K == OptimizerKind::kRMSprop) {
    s1 = h.beta1 * s1 + (1.0f - h.beta1) * (g * g);
    return g / (sqrtf(s1) + h.eps);
  } else if constexpr (K == OptimizerKind::kAdagrad) {
    s1 = s1 + g * g;
    return g / (sqrtf(s1) + h.eps);
  } else {  // kLion
    const float c = h.beta1 * s1 + (1.0f - h.beta1) * g;
    s1 = h.beta2 * s1 + (1.0f - h.beta2) * g;
    return c > 0.0f ? 1.0f : (c < 0.0f ? -1.0f : 0.0f);
  }
}

// The parameter after a step with direction u (scale: the trust ratio).
template <OptimizerKind K>
BNB_HOST_DEVICE inline float apply_update(const OptimizerHyper& h, float p, float u, float scale) {
  if constexpr (decoupled_decay(K)) p = p * (1.0f - h.lr * h.weight_decay);
  return p - (h.lr * scale) * u;
}

}  // namespace

// Calls f(std::integral_constant<OptimizerKind, K>{}) for the runtime kind.
template <typename F>
decltype(auto) dispatch_optimizer(OptimizerKind k, F&& f) {
  switch (k) {
    case OptimizerKind::kMomentum: return f(std::integral_constant<OptimizerKind, OptimizerKind::kMomentum>{});
    case OptimizerKind::kRMSprop: return f(std::integral_constant<OptimizerKind, OptimizerKind::kRMSprop>{});
    case OptimizerKind::kAdagrad: return f(std::integral_constant<OptimizerKind, OptimizerKind::kAdagrad>{});
    case OptimizerKind::kLion: return f(std::integral_constant<OptimizerKind, OptimizerKind::kLion>{});
    case OptimizerKind::kAdEMAMix: return f(std::integral_constant<OptimizerKind, OptimizerKind::kAdEMAMix>{});
    case OptimizerKind::kLamb: return f(std::integral_constant<OptimizerKind, OptimizerKind::kLamb>{});
    case OptimizerKind::kLars: return f(std::integral_constant<OptimizerKind, OptimizerKind::kLars>{});
    case OptimizerKind::kAdam:
    default: return f(std::integral_constant<OptimizerKind, OptimizerKind::kAdam>{});
  }
}

}  // namespace bnb
