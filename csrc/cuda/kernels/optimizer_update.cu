// GPU kernels of the fused optimizer updates. The per-element math is
// common/optimizer.h (the same functions as the CPU kernels). 32-bit: a
// grid-stride update (plus a reduction pass for the trust ratio). 8-bit
// blockwise: one 256-thread block per 256-element block dequantizes, updates,
// reduces the new absmax and requantizes by a branch-free midpoint search in
// shared memory. LAMB and LARS run as adam and momentum in 8 bits, on every GPU.
#include "common.cuh"  // first: compat.h brings the CUDA/HIP runtime that half.h needs
#include "optimizer_launchers.h"

namespace bnb::gpu {
namespace {

static_assert(kThreads == kOptimizerBlocksize, "one thread per element of an 8-bit optimizer block");

__global__ void zero_kernel(float* x) { *x = 0.0f; }

template <OptimizerKind K, typename T>
__global__ void unorm_kernel(Optimizer32bitArgs a) {
  __shared__ float red[kThreads];
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
  part = block_reduce<kThreads>(part, red, [](float x, float y) { return x + y; });
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

struct MaxAbs {
  __device__ float operator()(float x, float y) const { return x > y ? x : y; }
};

// Loads a sorted 256-entry map and its midpoints into shared memory.
__device__ inline void load_map(const float* qmap, float* code, float* mids) {
  const int t = threadIdx.x;
  code[t] = qmap[t];
  __syncthreads();
  if (t < 255) mids[t] = (code[t] + code[t + 1]) * 0.5f;
}

__device__ inline uint8_t requantize(const float* mids, int zero, float v, float amax) {
  const float x = v * (amax > 0.0f ? 1.0f / amax : 0.0f);
  return static_cast<uint8_t>(fix_sign(nearest_code(mids, x), zero, x));
}

template <OptimizerKind K, typename T>
__global__ void update_8bit_kernel(Optimizer8bitArgs a) {
  __shared__ float code1[256], mids1[256], code2[256], mids2[256], red[kThreads];
  __shared__ int zero1;
  const int t = threadIdx.x;
  if (t == 0) zero1 = -1;
  load_map(a.qmap1, code1, mids1);
  if constexpr (has_state2(K)) load_map(a.qmap2, code2, mids2);
  __syncthreads();
  if (t > 0 && t < 255 && code1[t] == 0.0f && code1[t - 1] < 0.0f && code1[t + 1] > 0.0f) zero1 = t;
  __syncthreads();

  const T* g = static_cast<const T*>(a.g);
  T* p = static_cast<T*>(a.p);
  const int64_t nblocks = (a.n + kOptimizerBlocksize - 1) / kOptimizerBlocksize;
  for (int64_t b = blockIdx.x; b < nblocks; b += gridDim.x) {
    const int64_t i = b * kOptimizerBlocksize + t;
    const bool valid = i < a.n;
    const float gi = valid ? to_f32(g[i]) : 0.0f;
    const float pi = valid ? to_f32(p[i]) : 0.0f;
    const bool act = valid && active_grad(a.h, gi);
    const float o1 = valid ? code1[a.state1[i]] * a.absmax1[b] : 0.0f;
    const float o1b =
        (K == OptimizerKind::kAdEMAMix && valid) ? code1[a.state1[a.n + i]] * a.absmax1[nblocks + b] : 0.0f;
    const float o2 = (has_state2(K) && valid) ? code2[a.state2[i]] * a.absmax2[b] : 0.0f;
    float s1 = o1, s1b = o1b, s2 = o2;
    const float u = update_element<K>(a.h, act ? gi : 0.0f, pi, s1, s1b, s2);
    if (act) p[i] = from_f32<T>(apply_update<K>(a.h, pi, u, 1.0f));
    const float v1 = act ? s1 : o1;
    const float m1 = block_reduce<kThreads>(fabsf(v1), red, MaxAbs{});
    if (t == 0) a.absmax1[b] = m1;
    if (valid) a.state1[i] = requantize(mids1, zero1, v1, m1);
    if constexpr (K == OptimizerKind::kAdEMAMix) {
      const float v1b = act ? s1b : o1b;
      const float m1b = block_reduce<kThreads>(fabsf(v1b), red, MaxAbs{});
      if (t == 0) a.absmax1[nblocks + b] = m1b;
      if (valid) a.state1[a.n + i] = requantize(mids1, zero1, v1b, m1b);
    }
    if constexpr (has_state2(K)) {
      const float v2 = act ? s2 : o2;
      const float m2 = block_reduce<kThreads>(fabsf(v2), red, MaxAbs{});
      if (t == 0) a.absmax2[b] = m2;
      if (valid) a.state2[i] = requantize(mids2, -1, v2, m2);
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
  const int64_t nblocks = num_blocks(a.n, kOptimizerBlocksize);
  const unsigned int grid = static_cast<unsigned int>(nblocks < 65535 * 64 ? nblocks : 65535 * 64);
  dispatch_optimizer(blockwise_kind(a.kind), [&](auto k) {
    constexpr OptimizerKind K = decltype(k)::value;
    if constexpr (K != OptimizerKind::kLamb && K != OptimizerKind::kLars) {
      dispatch_dtype(a.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        launch(update_8bit_kernel<K, T>, grid, kThreads, 0, s, a);
      });
    }
  });
  return launch_status();
}

}  // namespace bnb::gpu
