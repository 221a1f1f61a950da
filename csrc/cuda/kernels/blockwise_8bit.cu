// GPU 8-bit blockwise quantization and dequantization.
//
// Quantization picks the code nearest to x / absmax (as fp32 distances
// compare; ties, and repeated code values, to the lower index; NaN -> 0), the
// reference GPU kernel's rule. Each thread block first turns the sorted code into 255 decision
// thresholds (T_i = the largest value still nearer to code i-1, found by
// bisection over the fp32 values between the two codes), so the code of s is
// the number of thresholds below s: an 8-step search of an Eytzinger-ordered
// table in shared memory. The kernel is persistent (as many thread blocks as
// the multiprocessors hold) so the table is built once per thread block. A team of kTeam threads quantizes one block,
// kPer consecutive elements per thread (8; 16 at blocksize 4096): 16-byte loads, 8- or 16-byte stores; small blocksizes
// put several blocks in a 256-thread block and reduce with shuffles. Other blocksizes (the op takes any) run a strided
// kernel, one block per thread block at a time.
//
// Dequantization: grid-stride, 16 codes (one 16-byte load) per thread, the
// code table in shared memory.
#include "common.cuh"
#include "launchers.h"

namespace bnb::gpu {
namespace {

// Order-preserving map of floats to unsigned integers (and back).
__device__ inline uint32_t order_key(float f) {
  const uint32_t u = f32_bits(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ inline float from_order_key(uint32_t k) { return f32_from_bits((k & 0x80000000u) ? (k & 0x7FFFFFFFu) : ~k); }

// Whether s is nearer to hi than to lo (lo < hi, neighbouring code values; monotone in s).
__device__ inline bool at_least_upper(float s, float lo, float hi) {
  return s > lo && (s > hi || fabsf(hi - s) < fabsf(s - lo));
}

// The largest s still nearer to lo than to hi.
__device__ inline float decision_threshold(float lo, float hi) {
  uint32_t a = order_key(lo), b = order_key(hi);  // at_least_upper is false at a, true at b
  while (b - a > 1) {
    const uint32_t mid = a + (b - a) / 2;
    if (at_least_upper(from_order_key(mid), lo, hi))
      b = mid;
    else
      a = mid;
  }
  return from_order_key(a);
}

// Fills tree[1..255] with the decision thresholds of a sorted 256-entry code,
// in Eytzinger order: s gets a code index >= j exactly when s > T_j, i.e. when
// the nearest code value lies above code[j - 1] (repeated values keep their
// lowest index, so T_j compares code[j - 1] with the next larger value).
__device__ inline void build_thresholds(const float* __restrict__ code, float* tree) {
  for (int i = threadIdx.x + 1; i < 256; i += blockDim.x) {
    const int j = eytzinger_source<8>(i) + 1;
    const float lo = code[j - 1];
    int k = j;
    while (k < 256 && !(code[k] > lo)) ++k;
    tree[i] = k < 256 ? decision_threshold(lo, code[k]) : f32_from_bits(0x7F800000u);  // none larger: never
  }
  __syncthreads();
}

template <typename T, int kTeam, int kPer>
__global__ void __launch_bounds__(kTeam <= 32 ? kThreads : kTeam)
    quantize_blockwise_kernel(const T* __restrict__ x, int64_t n, const float* __restrict__ code, bool vec,
                              uint8_t* __restrict__ out, float* __restrict__ absmax) {
  constexpr int kBlock = kTeam <= 32 ? kThreads : kTeam;
  constexpr int kTeams = kBlock / kTeam;
  constexpr int64_t kBlocksize = static_cast<int64_t>(kTeam) * kPer;
  __shared__ float tree[256];
  build_thresholds(code, tree);
  const int lane = threadIdx.x % kTeam;
  const int64_t nblocks = (n + kBlocksize - 1) / kBlocksize;
  for (int64_t b0 = static_cast<int64_t>(blockIdx.x) * kTeams; b0 < nblocks;
       b0 += static_cast<int64_t>(gridDim.x) * kTeams) {  // the same trip count for every thread of the block
    const int64_t b = b0 + threadIdx.x / kTeam;
    const int64_t e0 = b * kBlocksize + static_cast<int64_t>(lane) * kPer;
    const bool full = vec && e0 + kPer <= n;
    float v[kPer];
    load_elems<kPer>(x, e0, n, full, v);
    float m = 0.0f;
#pragma unroll
    for (int j = 0; j < kPer; ++j) m = MaxOp{}(m, fabsf(v[j]));  // skips NaN
    m = team_allreduce<kTeam>(m, MaxOp{});
    if (b >= nblocks) continue;
    if (lane == 0) absmax[b] = m;
    const float inv = 1.0f / m;
    uint8_t q[kPer];
#pragma unroll
    for (int j = 0; j < kPer; ++j) q[j] = static_cast<uint8_t>(eytzinger_rank<8>(tree, v[j] * inv));
    if (full) {
      store_bytes<kPer>(out + e0, q);
    } else {
      for (int j = 0; j < kPer && e0 + j < n; ++j) out[e0 + j] = q[j];
    }
  }
}

// Any other blocksize: one 256-thread block per quantization block at a time, strided.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    quantize_blockwise_any_kernel(const T* __restrict__ x, int64_t n, int64_t blocksize, const float* __restrict__ code,
                                  uint8_t* __restrict__ out, float* __restrict__ absmax) {
  __shared__ float tree[256];
  build_thresholds(code, tree);
  const int64_t nblocks = (n + blocksize - 1) / blocksize;
  for (int64_t b = blockIdx.x; b < nblocks; b += gridDim.x) {
    const int64_t start = b * blocksize, end = n - start < blocksize ? n : start + blocksize;
    float m = 0.0f;
    for (int64_t i = start + threadIdx.x; i < end; i += kThreads) m = MaxOp{}(m, fabsf(to_float(x[i])));
    m = block_allreduce<kThreads>(m, MaxOp{});
    if (threadIdx.x == 0) absmax[b] = m;
    const float inv = 1.0f / m;
    for (int64_t i = start + threadIdx.x; i < end; i += kThreads)
      out[i] = static_cast<uint8_t>(eytzinger_rank<8>(tree, to_float(x[i]) * inv));
  }
}

template <typename T, int kTeam, int kPer>
void launch_quantize(const QuantizeBlockwiseArgs& a, gpuStream_t s) {
  constexpr int kBlock = kTeam <= 32 ? kThreads : kTeam;
  const int64_t steps = (num_blocks(a.n, a.blocksize) + kBlock / kTeam - 1) / (kBlock / kTeam);
  const bool vec = aligned(a.input, 16) && aligned(a.out, kPer);
  const auto kernel = quantize_blockwise_kernel<T, kTeam, kPer>;
  launch(kernel, persistent_grid(kernel, kBlock, steps), kBlock, 0, s, static_cast<const T*>(a.input), a.n, a.code, vec,
         a.out, a.absmax);
}

constexpr int kDequantPer = 16;

template <typename T>
__global__ void __launch_bounds__(kThreads)
    dequantize_blockwise_kernel(const uint8_t* __restrict__ in, const float* __restrict__ code,
                                const float* __restrict__ absmax, int64_t n, int64_t blocksize, bool vec,
                                T* __restrict__ out) {
  __shared__ float scode[256];
  for (int i = threadIdx.x; i < 256; i += kThreads) scode[i] = code[i];
  __syncthreads();
  const int64_t chunks = (n + kDequantPer - 1) / kDequantPer;
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; c < chunks;
       c += static_cast<int64_t>(gridDim.x) * kThreads) {
    const int64_t e0 = c * kDequantPer;
    if (vec && e0 + kDequantPer <= n) {  // vec: 16 elements never straddle a block (blocksize % 16 == 0)
      const float s = absmax[e0 / blocksize];
      uint8_t q[kDequantPer];
      load_bytes<kDequantPer>(in + e0, q);
      float v[kDequantPer];
#pragma unroll
      for (int j = 0; j < kDequantPer; ++j) v[j] = scode[q[j]] * s;
      store_vec<kDequantPer>(out + e0, v);
    } else {
      for (int64_t e = e0; e < n && e < e0 + kDequantPer; ++e)
        out[e] = from_float<T>(scode[in[e]] * absmax[e / blocksize]);
    }
  }
}

}  // namespace

const char* launch_quantize_blockwise(const QuantizeBlockwiseArgs& a, void* stream) {
  if (a.n == 0) return nullptr;
  const gpuStream_t s = static_cast<gpuStream_t>(stream);
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    switch (a.blocksize) {
      case 64: launch_quantize<T, 8, 8>(a, s); break;
      case 128: launch_quantize<T, 16, 8>(a, s); break;
      case 256: launch_quantize<T, 32, 8>(a, s); break;
      case 512: launch_quantize<T, 64, 8>(a, s); break;
      case 1024: launch_quantize<T, 128, 8>(a, s); break;
      case 2048: launch_quantize<T, 256, 8>(a, s); break;
      case 4096: launch_quantize<T, 256, 16>(a, s); break;
      default: {
        const auto kernel = quantize_blockwise_any_kernel<T>;
        launch(kernel, persistent_grid(kernel, kThreads, num_blocks(a.n, a.blocksize)), kThreads, 0, s,
               static_cast<const T*>(a.input), a.n, a.blocksize, a.code, a.out, a.absmax);
      }
    }
  });
  return launch_status();
}

const char* launch_dequantize_blockwise(const DequantizeBlockwiseArgs& a, void* stream) {
  if (a.n == 0) return nullptr;
  const bool vec = a.blocksize % kDequantPer == 0 && aligned(a.in, kDequantPer) && aligned(a.out, 16);
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(dequantize_blockwise_kernel<T>, grid_for((a.n + kDequantPer - 1) / kDequantPer), kThreads, 0,
           static_cast<gpuStream_t>(stream), a.in, a.code, a.absmax, a.n, a.blocksize, vec, static_cast<T*>(a.out));
  });
  return launch_status();
}

}  // namespace bnb::gpu
