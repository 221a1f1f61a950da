// Device helpers shared by the GPU kernels: tables, reductions, vector loads
// and stores, fast dtype conversions.
#pragma once

#include "../../common/compat.h"
#include "../../common/dispatch.h"
#include "../../common/format.h"
#include "../../common/half.h"

#if defined(__CUDA_ARCH__)
#define BNB_CUDA_DEVICE 1  // compiling device code for an NVIDIA GPU
#elif defined(__HIP_DEVICE_COMPILE__)
#define BNB_AMD_DEVICE 1  // compiling device code for an AMD GPU
#endif

#if defined(BNB_GPU_CUDA)
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cub/block/block_reduce.cuh>
#define BNB_HAVE_CUB 1
namespace gpucub = cub;
#elif defined(BNB_GPU_HIP) && !defined(BNB_GPU_HIP_CPU) && __has_include(<hipcub/block/block_reduce.hpp>)
#include <hipcub/block/block_reduce.hpp>
#define BNB_HAVE_CUB 1
namespace gpucub = hipcub;
#endif

namespace bnb::gpu {

// ---------------------------------------------------------------------------
// Launch geometry
// ---------------------------------------------------------------------------

// Multiprocessors of the current device (cached per device).
inline int sm_count() {
#if defined(BNB_GPU_HIP_CPU)
  hipDeviceProp_t p{};
  return hipGetDeviceProperties(&p, 0) == hipSuccess && p.multiProcessorCount > 0 ? p.multiProcessorCount : 1;
#else
  static int cache[64] = {};
  int dev = 0, n = 0;
#if defined(BNB_GPU_CUDA)
  if (cudaGetDevice(&dev) != cudaSuccess) dev = 0;
#else
  if (hipGetDevice(&dev) != hipSuccess) dev = 0;
#endif
  if (dev >= 0 && dev < 64 && cache[dev] > 0) return cache[dev];
#if defined(BNB_GPU_CUDA)
  if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) n = 0;
#else
  if (hipDeviceGetAttribute(&n, hipDeviceAttributeMultiprocessorCount, dev) != hipSuccess) n = 0;
#endif
  n = n > 0 ? n : 1;
  if (dev >= 0 && dev < 64) cache[dev] = n;
  return n;
#endif
}

// Grid of a persistent kernel: as many thread blocks of `threads` as the
// multiprocessors hold at once (the occupancy calculator's figure), fewer when
// there is less work.
template <typename... Params>
inline unsigned int persistent_grid(void (*kernel)(Params...), int threads, int64_t work_items) {
  int per_sm = 0;
#if defined(BNB_GPU_HIP_CPU)
  per_sm = 1;  // one thread block per core; the blocks' loops run several steps (as tests want)
  (void)kernel, (void)threads;
#elif defined(BNB_GPU_CUDA)
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, 0) != cudaSuccess) per_sm = 0;
#else
  if (hipOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, 0) != hipSuccess) per_sm = 0;
#endif
  const int64_t full = static_cast<int64_t>(sm_count()) * (per_sm > 0 ? per_sm : 1);
  return static_cast<unsigned int>(work_items < 1 ? 1 : (work_items < full ? work_items : full));
}

inline bool aligned(const void* p, uintptr_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// ---------------------------------------------------------------------------
// Reductions. Every thread of the block must reach them (a shuffle is a block
// barrier on the HIP CPU runtime, and CUB's reductions synchronize).
// ---------------------------------------------------------------------------

struct MaxOp {  // a NaN operand is skipped, whichever side it is on (order-independent, as CUB needs)
  __device__ float operator()(float a, float b) const { return (b > a || a != a) ? b : a; }
};
struct NanMaxOp {  // NaN propagates (torch's max)
  __device__ float operator()(float a, float b) const { return (b > a || b != b) ? b : a; }
};
struct SumOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct OrOp {
  __device__ int operator()(int a, int b) const { return a | b; }
};

template <typename T>
__device__ inline T shfl_xor(T v, int mask, int width) {
#if defined(BNB_GPU_CUDA)
  return __shfl_xor_sync(0xffffffffu, v, mask, width);
#else
  return __shfl_xor(v, mask, width);
#endif
}

// Reduction over aligned groups of kWidth consecutive lanes (a power of two up
// to 32, so it is the same at 32- and 64-lane wavefronts); every lane gets its
// group's result.
template <int kWidth, typename T, typename Op>
__device__ inline T group_allreduce(T v, Op op) {
  static_assert(kWidth >= 1 && kWidth <= 32 && (kWidth & (kWidth - 1)) == 0, "group width: a power of two <= 32");
#pragma unroll
  for (int m = kWidth / 2; m > 0; m >>= 1) v = op(v, shfl_xor(v, m, kWidth));
  return v;
}

// Reduction over the whole thread block of kBlock threads (a multiple of 32);
// every thread gets the result. CUB (hipCUB) on GPUs; 32-lane shuffles and
// shared memory where neither exists (the HIP CPU runtime, a ROCm install
// without hipCUB).
template <int kBlock, typename T, typename Op>
__device__ inline T block_allreduce(T v, Op op) {
  static_assert(kBlock % 32 == 0, "block size: a multiple of 32");
  __shared__ T result;
#if defined(BNB_HAVE_CUB)
  using Reduce = gpucub::BlockReduce<T, kBlock>;
  __shared__ typename Reduce::TempStorage temp;
  const T r = Reduce(temp).Reduce(v, op);
  if (threadIdx.x == 0) result = r;
#else
  __shared__ T partial[kBlock / 32];
  v = group_allreduce<32>(v, op);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    T r = partial[0];
    for (int i = 1; i < kBlock / 32; ++i) r = op(r, partial[i]);
    result = r;
  }
#endif
  __syncthreads();
  const T out = result;
  __syncthreads();  // the storage is reused by the next call
  return out;
}

// Reduction over aligned groups of kGroup threads (a power of two; groups
// larger than 32 must be the whole block).
template <int kGroup, typename T, typename Op>
__device__ inline T team_allreduce(T v, Op op) {
  if constexpr (kGroup <= 32)
    return group_allreduce<kGroup>(v, op);
  else
    return block_allreduce<kGroup>(v, op);
}

// ---------------------------------------------------------------------------
// Search tables in shared memory
// ---------------------------------------------------------------------------

// A sorted list of 2^kLevels - 1 keys in Eytzinger (breadth-first) order at
// tree[1 ..]: a search reads one key per level, and the keys of a level lie
// next to each other (few bank conflicts). Entry i of the tree holds sorted key
// eytzinger_source(i) (call with i = 1 .. 2^kLevels - 1).
template <int kLevels>
__device__ inline int eytzinger_source(int i) {
  int depth = 0;
  while ((2 << depth) <= i) ++depth;
  const int p = i - (1 << depth);
  return ((2 * p + 1) << (kLevels - 1 - depth)) - 1;
}

// Number of keys < x (NaN: 0), or with kNanHigh the number of keys k with
// !(x <= k) (NaN: all of them).
template <int kLevels, bool kNanHigh = false>
__device__ inline int eytzinger_rank(const float* tree, float x) {
  int i = 1;
#pragma unroll
  for (int l = 0; l < kLevels; ++l) {
    const float k = tree[i];
    i = 2 * i + (kNanHigh ? !(x <= k) : (k < x));
  }
  return i - (1 << kLevels);
}

// The 4-bit tables, passed to kernels by value (device code cannot read the
// host constexpr arrays of format.h).
struct FourBitTables {
  float code[16];
  float mids[15];
  uint8_t to_code[16];
  uint8_t zero_code;
};

inline FourBitTables four_bit_tables(QuantType qt) {
  FourBitTables t{};
  for (int i = 0; i < 16; ++i) t.code[i] = code_table(qt)[i], t.to_code[i] = sorted_to_code_table(qt)[i];
  for (int i = 0; i < 15; ++i) t.mids[i] = midpoint_table(qt)[i];
  t.zero_code = t.to_code[nearest_4bit_sorted_position(0.0f, t.mids)];
  return t;
}

// ---------------------------------------------------------------------------
// Conversions and vector memory access
// ---------------------------------------------------------------------------

// Element -> fp32, exact (hardware conversion where there is one; a NaN's
// payload may differ from half.h's).
__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(bf16_t x) { return f32_from_bits(static_cast<uint32_t>(x.bits) << 16); }
__device__ __forceinline__ float to_float(fp16_t x) {
#if defined(BNB_CUDA_DEVICE)
  return __half2float(__ushort_as_half(x.bits));
#elif defined(BNB_AMD_DEVICE)
  return static_cast<float>(__builtin_bit_cast(_Float16, x.bits));
#else
  return to_f32(x);
#endif
}

// fp32 -> element, round to nearest even (hardware conversion where there is
// one), bit-identical to half.h's from_f32, NaN payloads included.
template <typename T>
__device__ __forceinline__ T from_float(float f) {
  if constexpr (std::is_same_v<T, float>) {
    return f;
  } else {
    if (f != f) return from_f32<T>(f);  // NaN: half.h keeps the payload
#if defined(BNB_CUDA_DEVICE)
    if constexpr (std::is_same_v<T, fp16_t>) return fp16_t{__half_as_ushort(__float2half_rn(f))};
#if __CUDA_ARCH__ >= 800
    if constexpr (std::is_same_v<T, bf16_t>) return bf16_t{__bfloat16_as_ushort(__float2bfloat16_rn(f))};
#endif
#elif defined(BNB_AMD_DEVICE)
    if constexpr (std::is_same_v<T, fp16_t>) return fp16_t{__builtin_bit_cast(uint16_t, static_cast<_Float16>(f))};
#endif
    return from_f32<T>(f);
  }
}

// kN consecutive elements from p, as fp32 (p aligned to 16 bytes, or 8 for four 16-bit elements).
template <int kN, typename T>
__device__ inline void load_vec(const T* p, float (&v)[kN]) {
  if constexpr (std::is_same_v<T, float>) {
    static_assert(kN % 4 == 0, "float vectors: multiples of 4");
#pragma unroll
    for (int j = 0; j < kN; j += 4) {
      const float4 q = *reinterpret_cast<const float4*>(p + j);
      v[j] = q.x, v[j + 1] = q.y, v[j + 2] = q.z, v[j + 3] = q.w;
    }
  } else if constexpr (kN == 4) {  // 8-byte aligned
    const uint2 q = *reinterpret_cast<const uint2*>(p);
    const uint32_t w[2] = {q.x, q.y};
#pragma unroll
    for (int i = 0; i < 4; ++i) v[i] = to_float(T{static_cast<uint16_t>(w[i / 2] >> (16 * (i % 2)))});
  } else {
    static_assert(kN % 8 == 0, "16-bit vectors: 4 or multiples of 8");
#pragma unroll
    for (int j = 0; j < kN; j += 8) {
      const uint4 q = *reinterpret_cast<const uint4*>(p + j);
      const uint32_t w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
      for (int i = 0; i < 8; ++i) v[j + i] = to_float(T{static_cast<uint16_t>(w[i / 2] >> (16 * (i % 2)))});
    }
  }
}

// Elements i0 .. i0 + kN - 1 of p as fp32: one vector load when `full` (all before
// the end, p + i0 aligned as load_vec wants), else one by one, 0 past n.
template <int kN, typename T>
__device__ inline void load_elems(const T* p, int64_t i0, int64_t n, bool full, float (&v)[kN]) {
  if (full) {
    load_vec<kN>(p + i0, v);
  } else {
#pragma unroll
    for (int j = 0; j < kN; ++j) v[j] = i0 + j < n ? to_float(p[i0 + j]) : 0.0f;
  }
}

// kN consecutive elements to p, from fp32 (alignment as load_vec).
template <int kN, typename T>
__device__ inline void store_vec(T* p, const float (&v)[kN]) {
  if constexpr (std::is_same_v<T, float>) {
    static_assert(kN % 4 == 0, "float vectors: multiples of 4");
#pragma unroll
    for (int j = 0; j < kN; j += 4) *reinterpret_cast<float4*>(p + j) = make_float4(v[j], v[j + 1], v[j + 2], v[j + 3]);
  } else if constexpr (kN == 4) {  // 8-byte aligned
    uint32_t w[2];
#pragma unroll
    for (int i = 0; i < 2; ++i)
      w[i] = static_cast<uint32_t>(from_float<T>(v[2 * i]).bits) |
             static_cast<uint32_t>(from_float<T>(v[2 * i + 1]).bits) << 16;
    *reinterpret_cast<uint2*>(p) = make_uint2(w[0], w[1]);
  } else {
    static_assert(kN % 8 == 0, "16-bit vectors: 4 or multiples of 8");
#pragma unroll
    for (int j = 0; j < kN; j += 8) {
      uint32_t w[4];
#pragma unroll
      for (int i = 0; i < 4; ++i)
        w[i] = static_cast<uint32_t>(from_float<T>(v[j + 2 * i]).bits) |
               static_cast<uint32_t>(from_float<T>(v[j + 2 * i + 1]).bits) << 16;
      *reinterpret_cast<uint4*>(p + j) = make_uint4(w[0], w[1], w[2], w[3]);
    }
  }
}

// kN bytes (4, 8 or 16) to a kN-byte aligned p.
template <int kN>
__device__ inline void store_bytes(uint8_t* p, const uint8_t (&b)[kN]) {
  uint32_t w[kN / 4];
#pragma unroll
  for (int i = 0; i < kN / 4; ++i)
    w[i] = b[4 * i] | b[4 * i + 1] << 8 | b[4 * i + 2] << 16 | static_cast<uint32_t>(b[4 * i + 3]) << 24;
  if constexpr (kN == 4)
    *reinterpret_cast<uint32_t*>(p) = w[0];
  else if constexpr (kN == 8)
    *reinterpret_cast<uint2*>(p) = make_uint2(w[0], w[1]);
  else
    *reinterpret_cast<uint4*>(p) = make_uint4(w[0], w[1], w[2], w[3]);
}

// kN bytes (4, 8 or 16) from a kN-byte aligned p.
template <int kN>
__device__ inline void load_bytes(const uint8_t* p, uint8_t (&b)[kN]) {
  uint32_t w[kN / 4];
  if constexpr (kN == 4) {
    w[0] = *reinterpret_cast<const uint32_t*>(p);
  } else if constexpr (kN == 8) {
    const uint2 q = *reinterpret_cast<const uint2*>(p);
    w[0] = q.x, w[1] = q.y;
  } else {
    const uint4 q = *reinterpret_cast<const uint4*>(p);
    w[0] = q.x, w[1] = q.y, w[2] = q.z, w[3] = q.w;
  }
#pragma unroll
  for (int i = 0; i < kN; ++i) b[i] = static_cast<uint8_t>(w[i / 4] >> (8 * (i % 4)));
}

inline const char* launch_status() {
  const gpuError_t e = gpuGetLastError();
  return e == gpuSuccess ? nullptr : gpuGetErrorString(e);
}

}  // namespace bnb::gpu
