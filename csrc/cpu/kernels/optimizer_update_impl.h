// The loops of the CPU optimizer kernels, included by optimizer_update.cpp
// (scalar reference path), optimizer_update_avx2.cpp and
// optimizer_update_avx512.cpp, each compiled with its own ISA flags. Loops are
// written branch-free (selects, a fixed-step binary search) so the compiler
// vectorizes them for the ISA of the including file; the fp32 operations and
// their order are the same everywhere (no fp contraction), so every path gives
// the same bits. Internal linkage: each file gets its own copy.
#pragma once

#include <algorithm>
#include <cmath>

#include "../../common/dispatch.h"
#include "../../common/format.h"
#include "optimizer_update.h"

namespace bnb::cpu {
namespace {

template <OptimizerKind K, typename T>
double unorm_range(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  const T* g = static_cast<const T*>(a.g);
  const T* p = static_cast<const T*>(a.p);
  const float* s1p = a.state1;
  const float* s1bp = K == OptimizerKind::kAdEMAMix ? a.state1 + a.n : a.state1;
  const float* s2p = has_state2(K) ? a.state2 : a.state1;
  double total = 0.0;
  constexpr int64_t kChunk = 1024;  // fp32 partial sums over short runs, summed in double
  for (int64_t c = begin; c < end; c += kChunk) {
    const int64_t ce = std::min(end, c + kChunk);
    float part = 0.0f;
    for (int64_t i = c; i < ce; ++i) {
      const float gi = to_f32(g[i]);
      const bool act = active_grad(a.h, gi);
      float s1 = s1p[i], s1b = s1bp[i], s2 = s2p[i];
      const float u = update_element<K>(a.h, act ? gi : 0.0f, to_f32(p[i]), s1, s1b, s2);
      part += act ? u * u : 0.0f;
    }
    total += part;
  }
  return total;
}

template <OptimizerKind K, typename T>
void update_32bit_range(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  const T* g = static_cast<const T*>(a.g);
  T* p = static_cast<T*>(a.p);
  float* s1p = a.state1;
  float* s1bp = K == OptimizerKind::kAdEMAMix ? a.state1 + a.n : nullptr;
  float* s2p = has_state2(K) ? a.state2 : nullptr;
  const float scale = unorm_scale(a.unorm_sum ? *a.unorm_sum : 0.0f, a.max_unorm, a.param_norm);
  for (int64_t i = begin; i < end; ++i) {
    const float gi = to_f32(g[i]);
    const float pi = to_f32(p[i]);
    const bool act = active_grad(a.h, gi);
    const float o1 = s1p[i];
    const float o1b = s1bp ? s1bp[i] : 0.0f;
    const float o2 = s2p ? s2p[i] : 0.0f;
    float s1 = o1, s1b = o1b, s2 = o2;
    const float u = update_element<K>(a.h, act ? gi : 0.0f, pi, s1, s1b, s2);
    const float pn = apply_update<K>(a.h, pi, u, scale);
    s1p[i] = act ? s1 : o1;
    if (s1bp) s1bp[i] = act ? s1b : o1b;
    if (s2p) s2p[i] = act ? s2 : o2;
    p[i] = act ? from_f32<T>(pn) : p[i];
  }
}

// Requantizes len values of a block with absmax amax: nearest code of v/amax.
inline void requantize(const float* v, int64_t len, float amax, const float* mids, int zero, uint8_t* q) {
  const float inv = amax > 0.0f ? 1.0f / amax : 0.0f;
  for (int64_t i = 0; i < len; ++i) {
    const float x = v[i] * inv;
    q[i] = static_cast<uint8_t>(fix_sign(nearest_code(mids, x), zero, x));
  }
}

inline float abs_max(const float* v, int64_t len) {
  float m = 0.0f;
  for (int64_t i = 0; i < len; ++i) {
    const float x = std::fabs(v[i]);
    m = x > m ? x : m;  // skips NaN
  }
  return m;
}

template <OptimizerKind K, typename T>
void update_8bit_blocks(const Optimizer8bitArgs& a, int64_t block_begin, int64_t block_end) {
  constexpr int64_t kBS = kOptimizerBlocksize;
  const T* g = static_cast<const T*>(a.g);
  T* p = static_cast<T*>(a.p);
  const int64_t nblocks = num_blocks(a.n, kBS);
  const float* qmap1 = a.qmap1;
  const float* qmap2 = has_state2(K) ? a.qmap2 : a.qmap1;
  alignas(64) float v1[kBS], v1b[kBS], v2[kBS];
  for (int64_t b = block_begin; b < block_end; ++b) {
    const int64_t start = b * kBS;
    const int64_t len = std::min(kBS, a.n - start);
    uint8_t* q1 = a.state1 + start;
    uint8_t* q1b = K == OptimizerKind::kAdEMAMix ? a.state1 + a.n + start : q1;
    uint8_t* q2 = has_state2(K) ? a.state2 + start : q1;
    const float am1 = a.absmax1[b];
    const float am1b = K == OptimizerKind::kAdEMAMix ? a.absmax1[nblocks + b] : 0.0f;
    const float am2 = has_state2(K) ? a.absmax2[b] : 0.0f;
    const T* gb = g + start;
    T* pb = p + start;
    for (int64_t i = 0; i < len; ++i) {
      const float gi = to_f32(gb[i]);
      const float pi = to_f32(pb[i]);
      const bool act = active_grad(a.h, gi);
      const float o1 = qmap1[q1[i]] * am1;
      const float o1b = K == OptimizerKind::kAdEMAMix ? qmap1[q1b[i]] * am1b : 0.0f;
      const float o2 = has_state2(K) ? qmap2[q2[i]] * am2 : 0.0f;
      float s1 = o1, s1b = o1b, s2 = o2;
      const float u = update_element<K>(a.h, act ? gi : 0.0f, pi, s1, s1b, s2);
      const float pn = apply_update<K>(a.h, pi, u, 1.0f);
      v1[i] = act ? s1 : o1;
      v1b[i] = act ? s1b : o1b;
      v2[i] = act ? s2 : o2;
      pb[i] = act ? from_f32<T>(pn) : pb[i];
    }
    const float m1 = abs_max(v1, len);
    a.absmax1[b] = m1;
    requantize(v1, len, m1, a.mids1, a.zero1, q1);
    if constexpr (K == OptimizerKind::kAdEMAMix) {
      const float m1b = abs_max(v1b, len);
      a.absmax1[nblocks + b] = m1b;
      requantize(v1b, len, m1b, a.mids1, a.zero1, q1b);
    }
    if constexpr (has_state2(K)) {
      const float m2 = abs_max(v2, len);
      a.absmax2[b] = m2;
      requantize(v2, len, m2, a.mids2, -1, q2);
    }
  }
}

// The exported entry points of one path (the including file names the suffix).
inline double unorm_dispatch(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  return dispatch_optimizer(a.kind, [&](auto k) {
    return dispatch_dtype(
        a.dtype, [&](auto t) { return unorm_range<decltype(k)::value, typename decltype(t)::type>(a, begin, end); });
  });
}

inline void update_32bit_dispatch(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  dispatch_optimizer(a.kind, [&](auto k) {
    dispatch_dtype(a.dtype,
                   [&](auto t) { update_32bit_range<decltype(k)::value, typename decltype(t)::type>(a, begin, end); });
  });
}

inline void update_8bit_dispatch(const Optimizer8bitArgs& a, int64_t block_begin, int64_t block_end) {
  dispatch_optimizer(blockwise_kind(a.kind), [&](auto k) {
    constexpr OptimizerKind K = decltype(k)::value;
    if constexpr (K != OptimizerKind::kLamb && K != OptimizerKind::kLars) {
      dispatch_dtype(a.dtype,
                     [&](auto t) { update_8bit_blocks<K, typename decltype(t)::type>(a, block_begin, block_end); });
    }
  });
}

}  // namespace
}  // namespace bnb::cpu
