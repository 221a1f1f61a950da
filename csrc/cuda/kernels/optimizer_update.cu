// GPU kernels of the fused optimizer updates. The per-element math is
// common/optimizer.h (the same functions as the CPU kernels).
//  - 32-bit: a grid-stride update (plus a reduction pass for the trust ratio).
//  - 8-bit blockwise: persistent 64-thread blocks; each loads the maps once
//    (codes, and their midpoints in Eytzinger order for an 8-step search) and
//    then updates one 256-element block per step, 4 consecutive elements per
//    thread: one 16-byte (fp32) or 8-byte (fp16/bf16) load each of g and p, a
//    4-byte load and store per state, block reductions of the new absmax
//    (CUB / hipCUB), p written only where the gradient was usable.
//    LAMB and LARS run as adam and momentum in 8 bits, on every GPU.
#include "common.cuh"  // first: compat.h brings the CUDA/HIP runtime that half.h needs
#include "optimizer_launchers.h"

namespace bnb::gpu {
namespace {

constexpr int kOptThreads = 64;                             // threads per 256-element block
constexpr int kOptPer = kOptimizerBlocksize / kOptThreads;  // consecutive elements per thread
static_assert(kOptPer == 4, "the 8-bit update moves 4 elements per thread");

__global__ void zero_kernel(float* x) { *x = 0.0f; }

template <OptimizerKind K, typename T>
__global__ void unorm_kernel(Optimizer32bitArgs a) {
  const T* g = static_cast<const T*>(a.g);
  const T* p = static_cast<const T*>(a.p);
  float part = 0.0f;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < a.n;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const float gi = to_f32(g[i]);
    const bool act = active_grad(a.h, gi);
    float s1 = a.state1[i];
    float s1b = K == OptimizerKind::kAdEMAMix ? a.state1[a.n + i] : 0.0f;
    float s2 = has_state2(K) ? a.state2[i] : 0.0f;
    const float u = update_element<K>(a.h, act ? gi : 0.0f, to_f32(p[i]), s1, s1b, s2);
    part += act ? u * u : 0.0f;
  }
  part = block_allreduce<kThreads>(part, SumOp{});
  if (threadIdx.x == 0) atomicAdd(a.unorm_sum, part);
}

template <OptimizerKind K, typename T>
__global__ void update_32bit_kernel(Optimizer32bitArgs a) {
  const T* g = static_cast<const T*>(a.g);
  T* p = static_cast<T*>(a.p);
  const float scale = unorm_scale(a.unorm_sum ? *a.unorm_sum : 0.0f, a.max_unorm, a.param_norm);
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < a.n;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const float gi = to_f32(g[i]);
    if (!active_grad(a.h, gi)) continue;
    const float pi = to_f32(p[i]);
    float s1 = a.state1[i];
    float s1b = K == OptimizerKind::kAdEMAMix ? a.state1[a.n + i] : 0.0f;
    float s2 = has_state2(K) ? a.state2[i] : 0.0f;
    const float u = update_element<K>(a.h, gi, pi, s1, s1b, s2);
    p[i] = from_f32<T>(apply_update<K>(a.h, pi, u, scale));
    a.state1[i] = s1;
    if constexpr (K == OptimizerKind::kAdEMAMix) a.state1[a.n + i] = s1b;
    if constexpr (has_state2(K)) a.state2[i] = s2;
  }
}

// Loads a sorted 256-entry map into code[] and its 255 midpoints (the CPU's
// code_midpoints) in Eytzinger order into tree[1..255].
__device__ inline void load_map(const float* __restrict__ qmap, float* code, float* tree) {
  for (int i = threadIdx.x; i < 256; i += kOptThreads) code[i] = qmap[i];
  __syncthreads();
  for (int i = threadIdx.x + 1; i < 256; i += kOptThreads) {
    const int k = eytzinger_source<8>(i);
    tree[i] = (code[k] + code[k + 1]) * 0.5f;
  }
}

// nearest_code() (the number of midpoints below x) and fix_sign() of v / amax.
__device__ inline uint8_t requantize(const float* tree, int zero, float v, float amax) {
  const float x = v * (amax > 0.0f ? 1.0f / amax : 0.0f);
  return static_cast<uint8_t>(fix_sign(eytzinger_rank<8>(tree, x), zero, x));
}

template <OptimizerKind K, typename T>
__global__ void __launch_bounds__(kOptThreads) update_8bit_kernel(Optimizer8bitArgs a, bool vec) {
  constexpr bool kTwo = has_state2(K), kMix = K == OptimizerKind::kAdEMAMix;
  __shared__ float code1[256], tree1[256], code2[kTwo ? 256 : 1], tree2[kTwo ? 256 : 1];
  __shared__ int zero1;
  if (threadIdx.x == 0) zero1 = -1;
  load_map(a.qmap1, code1, tree1);
  if constexpr (kTwo) load_map(a.qmap2, code2, tree2);
  __syncthreads();
  for (int i = threadIdx.x + 1; i < 255; i += kOptThreads)  // the signed map's zero (signed_zero_index)
    if (code1[i] == 0.0f && code1[i - 1] < 0.0f && code1[i + 1] > 0.0f) zero1 = i;
  __syncthreads();
  const int z1 = zero1;

  const T* g = static_cast<const T*>(a.g);
  T* p = static_cast<T*>(a.p);
  const int64_t nblocks = (a.n + kOptimizerBlocksize - 1) / kOptimizerBlocksize;
  for (int64_t b = blockIdx.x; b < nblocks; b += gridDim.x) {  // the same trip count for every thread of the block
    const int64_t i0 = b * kOptimizerBlocksize + static_cast<int64_t>(threadIdx.x) * kOptPer;
    const bool full = vec && i0 + kOptPer <= a.n;
    float gv[kOptPer], pv[kOptPer];
    uint8_t q1[kOptPer], q1b[kOptPer], q2[kOptPer];
    load_elems<kOptPer>(g, i0, a.n, full, gv);
    load_elems<kOptPer>(p, i0, a.n, full, pv);
    if (full) {
      load_bytes<kOptPer>(a.state1 + i0, q1);
      if constexpr (kMix) load_bytes<kOptPer>(a.state1 + a.n + i0, q1b);
      if constexpr (kTwo) load_bytes<kOptPer>(a.state2 + i0, q2);
    } else {
#pragma unroll
      for (int j = 0; j < kOptPer; ++j) {
        const bool valid = i0 + j < a.n;
        q1[j] = valid ? a.state1[i0 + j] : 0;
        if constexpr (kMix) q1b[j] = valid ? a.state1[a.n + i0 + j] : 0;
        if constexpr (kTwo) q2[j] = valid ? a.state2[i0 + j] : 0;
      }
    }
    const float scale1 = a.absmax1[b], scale1b = kMix ? a.absmax1[nblocks + b] : 0.0f,
                scale2 = kTwo ? a.absmax2[b] : 0.0f;
    float v1[kOptPer], v1b[kOptPer], v2[kOptPer];
    float m1 = 0.0f, m1b = 0.0f, m2 = 0.0f;
    bool act[kOptPer], all_active = true;
#pragma unroll
    for (int j = 0; j < kOptPer; ++j) {
      const bool valid = i0 + j < a.n;
      act[j] = valid && active_grad(a.h, gv[j]);
      const float o1 = valid ? code1[q1[j]] * scale1 : 0.0f;
      const float o1b = (kMix && valid) ? code1[q1b[j]] * scale1b : 0.0f;
      const float o2 = (kTwo && valid) ? code2[q2[j]] * scale2 : 0.0f;
      float s1 = o1, s1b = o1b, s2 = o2;
      const float u = update_element<K>(a.h, act[j] ? gv[j] : 0.0f, pv[j], s1, s1b, s2);
      if (act[j]) pv[j] = apply_update<K>(a.h, pv[j], u, 1.0f);
      all_active = all_active && act[j];
      v1[j] = act[j] ? s1 : o1, v1b[j] = act[j] ? s1b : o1b, v2[j] = act[j] ? s2 : o2;
      m1 = MaxOp{}(m1, fabsf(v1[j])), m1b = MaxOp{}(m1b, fabsf(v1b[j])), m2 = MaxOp{}(m2, fabsf(v2[j]));
    }
    if (full && all_active) {
      store_vec<kOptPer>(p + i0, pv);
    } else {
#pragma unroll
      for (int j = 0; j < kOptPer; ++j)
        if (act[j]) p[i0 + j] = from_float<T>(pv[j]);
    }
    m1 = block_allreduce<kOptThreads>(m1, MaxOp{});
    if constexpr (kMix) m1b = block_allreduce<kOptThreads>(m1b, MaxOp{});
    if constexpr (kTwo) m2 = block_allreduce<kOptThreads>(m2, MaxOp{});
    if (threadIdx.x == 0) {
      a.absmax1[b] = m1;
      if constexpr (kMix) a.absmax1[nblocks + b] = m1b;
      if constexpr (kTwo) a.absmax2[b] = m2;
    }
#pragma unroll
    for (int j = 0; j < kOptPer; ++j) {
      q1[j] = requantize(tree1, z1, v1[j], m1);
      if constexpr (kMix) q1b[j] = requantize(tree1, z1, v1b[j], m1b);
      if constexpr (kTwo) q2[j] = requantize(tree2, -1, v2[j], m2);
    }
    if (full) {
      store_bytes<kOptPer>(a.state1 + i0, q1);
      if constexpr (kMix) store_bytes<kOptPer>(a.state1 + a.n + i0, q1b);
      if constexpr (kTwo) store_bytes<kOptPer>(a.state2 + i0, q2);
    } else {
      for (int j = 0; j < kOptPer && i0 + j < a.n; ++j) {
        a.state1[i0 + j] = q1[j];
        if constexpr (kMix) a.state1[a.n + i0 + j] = q1b[j];
        if constexpr (kTwo) a.state2[i0 + j] = q2[j];
      }
    }
  }
}

}  // namespace

const char* launch_optimizer_update_32bit(const Optimizer32bitArgs& a, void* stream) {
  if (a.n == 0) return nullptr;
  const gpuStream_t s = static_cast<gpuStream_t>(stream);
  dispatch_optimizer(a.kind, [&](auto k) {
    constexpr OptimizerKind K = decltype(k)::value;
    dispatch_dtype(a.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (a.unorm_sum != nullptr) {
        launch(zero_kernel, 1, 1, 0, s, a.unorm_sum);
        launch(unorm_kernel<K, T>, grid_for(a.n), kThreads, 0, s, a);
      }
      launch(update_32bit_kernel<K, T>, grid_for(a.n), kThreads, 0, s, a);
    });
  });
  return launch_status();
}

const char* launch_optimizer_update_8bit_blockwise(const Optimizer8bitArgs& a, void* stream) {
  if (a.n == 0) return nullptr;
  const gpuStream_t s = static_cast<gpuStream_t>(stream);
  // vector access: g and p by 4 elements, the states by 4 bytes (ademamix' second state starts n bytes in)
  const size_t elem = a.dtype == DType::kF32 ? 4 : 2;
  const bool vec = aligned(a.g, 4 * elem) && aligned(a.p, 4 * elem) && aligned(a.state1, 4) &&
                   (a.state2 == nullptr || aligned(a.state2, 4)) &&
                   (a.kind != OptimizerKind::kAdEMAMix || a.n % 4 == 0);
  dispatch_optimizer(blockwise_kind(a.kind), [&](auto k) {
    constexpr OptimizerKind K = decltype(k)::value;
    if constexpr (K != OptimizerKind::kLamb && K != OptimizerKind::kLars) {
      dispatch_dtype(a.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const auto kernel = update_8bit_kernel<K, T>;
        launch(kernel, persistent_grid(kernel, kOptThreads, num_blocks(a.n, kOptimizerBlocksize)), kOptThreads, 0, s, a,
               vec);
      });
    }
  });
  return launch_status();
}

}  // namespace bnb::gpu
