// The per-element optimizer math of common/optimizer.h over SIMD vectors,
// written once for the AVX2 and AVX-512 twins in the scalar path's operation
// order (no contraction), so results equal the scalar path bit for bit.
// optimizer_update_avx2.cpp and optimizer_update_avx512.cpp each define their
// ISA traits `Isa` in an anonymous namespace and then include this file, whose
// contents are in an anonymous namespace too (every file compiles its own copy
// with its own ISA flags).
//
// Isa provides: `vec`; set1, add, mul, div, sub, sqrt; and sign(c): +1 where
// c > 0, -1 where c < 0, else 0 (Lion's update).
#pragma once

#include "optimizer_update_impl.h"

namespace bnb::cpu {
namespace {

using vec = Isa::vec;

inline vec add(vec a, vec b) { return Isa::add(a, b); }
inline vec mul(vec a, vec b) { return Isa::mul(a, b); }
inline vec div(vec a, vec b) { return Isa::div(a, b); }

// The scalars of OptimizerHyper as the scalar path forms them, broadcast.
struct VHyper {
  vec b1, omb1, b2, omb2, b3, omb3, alpha, eps, wd, gnorm, ratio, eps_b2, bias1, bias2, decay, lr_scale;
  bool first_step;
};

inline VHyper make_vhyper(const OptimizerHyper& h, float scale) {
  VHyper v;
  v.b1 = Isa::set1(h.beta1);
  v.omb1 = Isa::set1(1.0f - h.beta1);
  v.b2 = Isa::set1(h.beta2);
  v.omb2 = Isa::set1(1.0f - h.beta2);
  v.b3 = Isa::set1(h.beta3);
  v.omb3 = Isa::set1(1.0f - h.beta3);
  v.alpha = Isa::set1(h.alpha);
  v.eps = Isa::set1(h.eps);
  v.wd = Isa::set1(h.weight_decay);
  v.gnorm = Isa::set1(h.gnorm_scale);
  v.ratio = Isa::set1(h.bias2 / h.bias1);
  v.eps_b2 = Isa::set1(h.eps * h.bias2);
  v.bias1 = Isa::set1(h.bias1);
  v.bias2 = Isa::set1(h.bias2);
  v.decay = Isa::set1(1.0f - h.lr * h.weight_decay);
  v.lr_scale = Isa::set1(h.lr * scale);
  v.first_step = h.step == 1;
  return v;
}

// update_element<K>() of common/optimizer.h: updates the states, returns the update.
template <OptimizerKind K>
inline vec update_lanes(const VHyper& h, vec g, vec p, vec& s1, vec& s1b, vec& s2) {
  g = mul(g, h.gnorm);
  if constexpr (!decoupled_decay(K)) g = add(g, mul(h.wd, p));
  if constexpr (K == OptimizerKind::kAdam || K == OptimizerKind::kLamb) {
    s1 = add(mul(h.b1, s1), mul(h.omb1, g));
    s2 = add(mul(h.b2, s2), mul(h.omb2, mul(g, g)));
    return mul(h.ratio, div(s1, add(Isa::sqrt(s2), h.eps_b2)));
  } else if constexpr (K == OptimizerKind::kAdEMAMix) {
    s1 = add(mul(h.b1, s1), mul(h.omb1, g));
    s1b = add(mul(h.b3, s1b), mul(h.omb3, g));
    s2 = add(mul(h.b2, s2), mul(h.omb2, mul(g, g)));
    return div(add(div(s1, h.bias1), mul(h.alpha, s1b)), add(div(Isa::sqrt(s2), h.bias2), h.eps));
  } else if constexpr (K == OptimizerKind::kMomentum || K == OptimizerKind::kLars) {
    s1 = h.first_step ? g : add(mul(h.b1, s1), g);
    return s1;
  } else if constexpr (K == OptimizerKind::kRMSprop) {
    s1 = add(mul(h.b1, s1), mul(h.omb1, mul(g, g)));
    return div(g, add(Isa::sqrt(s1), h.eps));
  } else if constexpr (K == OptimizerKind::kAdagrad) {
    s1 = add(s1, mul(g, g));
    return div(g, add(Isa::sqrt(s1), h.eps));
  } else {  // kLion
    const vec c = add(mul(h.b1, s1), mul(h.omb1, g));
    s1 = add(mul(h.b2, s1), mul(h.omb2, g));
    return Isa::sign(c);
  }
}

// The parameter after the update u (decoupled weight decay first).
template <OptimizerKind K>
inline vec apply_lanes(const VHyper& h, vec p, vec u) {
  if constexpr (decoupled_decay(K)) p = mul(p, h.decay);
  return Isa::sub(p, mul(h.lr_scale, u));
}

}  // namespace
}  // namespace bnb::cpu
