// GPU 4-bit weight matmul (gemv_4bit / gemm_4bit), CUDA or HIP.
//  - gemv_kernel: up to 4 batch rows; a group of 32 lanes per weight row, each
//    lane reading 16 packed bytes (32 weights, one block) per step, coalesced
//    across the group, A with 16-byte loads, fp32 sums reduced with shuffles.
//    Needs K % 32 == 0 and 16-byte aligned A and weight.
//  - naive_kernel: any shape, one thread per output (the fallback).
//  - dequantize_weight_kernel: W in A's dtype with the scales (plain or nested)
//    decoded inline, for the dequantize + GEMM path of large batches.
#include "common.cuh"
#include "launchers.h"

namespace bnb::gpu {
namespace {

constexpr int kGroup = 32;  // lanes per weight row (half a CDNA wavefront)
constexpr int kRowsPerBlock = kThreads / kGroup;

struct Code16 {
  float v[16];
};

__device__ inline float block_scale(const Gemm4bitArgs& a, int64_t j) {
  if (a.absmax_8bit == nullptr) return a.absmax[j];
  return a.absmax_code[a.absmax_8bit[j]] * a.absmax[j / kNestedBlocksize] + *a.absmax_offset;
}

__device__ inline void load_code(const Gemm4bitArgs& a, const Code16& table, float* code) {
  if (threadIdx.x < 16) code[threadIdx.x] = a.code != nullptr ? a.code[threadIdx.x] : table.v[threadIdx.x];
  __syncthreads();
}

__device__ inline float group_sum(float v) {
  for (int off = kGroup / 2; off > 0; off >>= 1) {
#if defined(BNB_GPU_HIP)
    v += __shfl_down(v, off, kGroup);
#else
    v += __shfl_down_sync(0xffffffffu, v, off, kGroup);
#endif
  }
  return v;
}

// 8 consecutive elements as fp32, from 16-byte aligned vector loads.
__device__ inline void load8(const float* p, float* v) {
  const float4 a = *reinterpret_cast<const float4*>(p), b = *reinterpret_cast<const float4*>(p + 4);
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}
template <typename T>
__device__ inline void load8(const T* p, float* v) {  // fp16 / bf16
  const uint4 q = *reinterpret_cast<const uint4*>(p);
  const uint32_t words[4] = {q.x, q.y, q.z, q.w};
  for (int j = 0; j < 8; ++j) {
    T h;
    h.bits = static_cast<uint16_t>(words[j / 2] >> (16 * (j % 2)));
    v[j] = to_f32(h);
  }
}

template <typename T, int MR>
__global__ void gemv_kernel(Gemm4bitArgs a, Code16 table) {
  __shared__ float code[16];
  load_code(a, table, code);
  const int lane = threadIdx.x % kGroup;
  const int64_t n = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kGroup;
  // No early return: every lane reaches group_sum (on the HIP CPU runtime a shuffle is a block barrier).
  const bool live = n < a.N;
  const T* A = static_cast<const T*>(a.A);
  const uint8_t* row = a.B + n * a.K / 2;
  float acc[MR];
  for (int m = 0; m < MR; ++m) acc[m] = 0.0f;
  for (int64_t k0 = static_cast<int64_t>(lane) * 32; live && k0 < a.K; k0 += kGroup * 32) {
    const uint4 v = *reinterpret_cast<const uint4*>(row + k0 / 2);
    const float s = block_scale(a, (n * a.K + k0) / a.blocksize);
    const uint32_t words[4] = {v.x, v.y, v.z, v.w};
    float w[32];
    for (int i = 0; i < 16; ++i) {
      const uint8_t byte = static_cast<uint8_t>(words[i / 4] >> (8 * (i % 4)));
      w[2 * i] = code[high_nibble(byte)] * s;
      w[2 * i + 1] = code[low_nibble(byte)] * s;
    }
    for (int i = 0; i < 32; ++i) w[i] = to_f32(from_f32<T>(w[i]));  // as dequantize_4bit rounds it
    for (int m = 0; m < MR; ++m) {
      const T* x = A + m * a.K + k0;
      float sum = 0.0f;
      for (int i = 0; i < 32; i += 8) {
        float v[8];
        load8(x + i, v);
        for (int j = 0; j < 8; ++j) sum += v[j] * w[i + j];
      }
      acc[m] += sum;
    }
  }
  for (int m = 0; m < MR; ++m) {
    const float total = group_sum(acc[m]);
    if (live && lane == 0) {
      const float bias = a.bias != nullptr ? a.bias[n] : 0.0f;
      static_cast<T*>(a.out)[m * a.N + n] = from_f32<T>(total + bias);
    }
  }
}

template <typename T>
__global__ void naive_kernel(Gemm4bitArgs a, Code16 table) {
  __shared__ float code[16];
  load_code(a, table, code);
  const int64_t total = a.M * a.N;
  const T* A = static_cast<const T*>(a.A);
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < total;
       o += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t m = o / a.N, n = o % a.N;
    float acc = 0.0f;
    for (int64_t k = 0; k < a.K; ++k) {
      const int64_t e = n * a.K + k;
      const uint8_t byte = a.B[e / 2];
      const float w = code[(e & 1) ? low_nibble(byte) : high_nibble(byte)] * block_scale(a, e / a.blocksize);
      acc += to_f32(A[m * a.K + k]) * to_f32(from_f32<T>(w));
    }
    static_cast<T*>(a.out)[o] = from_f32<T>(acc + (a.bias != nullptr ? a.bias[n] : 0.0f));
  }
}

template <typename T>
__global__ void dequantize_weight_kernel(Gemm4bitArgs a, Code16 table, T* __restrict__ w) {
  __shared__ float code[16];
  load_code(a, table, code);
  const int64_t n = a.N * a.K;
  const int64_t bytes = (n + 1) / 2;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < bytes;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint8_t byte = a.B[i];
    const int64_t e = 2 * i;
    w[e] = from_f32<T>(code[high_nibble(byte)] * block_scale(a, e / a.blocksize));
    if (e + 1 < n) w[e + 1] = from_f32<T>(code[low_nibble(byte)] * block_scale(a, (e + 1) / a.blocksize));
  }
}

Code16 host_table(const Gemm4bitArgs& a) {
  Code16 t{};
  for (int i = 0; i < 16; ++i) t.v[i] = code_table(a.quant_type)[i];
  return t;
}

}  // namespace

bool gemm_4bit_uses_gemv(const Gemm4bitArgs& a) {
  return a.M <= 4 && a.K % 32 == 0 && reinterpret_cast<uintptr_t>(a.B) % 16 == 0 &&
         reinterpret_cast<uintptr_t>(a.A) % 16 == 0;
}

const char* launch_gemm_4bit(const Gemm4bitArgs& a, void* stream) {
  if (a.M == 0 || a.N == 0) return nullptr;
  const Code16 table = host_table(a);
  const gpuStream_t s = static_cast<gpuStream_t>(stream);
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (gemm_4bit_uses_gemv(a)) {
      const unsigned int blocks = static_cast<unsigned int>((a.N + kRowsPerBlock - 1) / kRowsPerBlock);
      switch (a.M) {
        case 1: launch(gemv_kernel<T, 1>, blocks, kThreads, 0, s, a, table); break;
        case 2: launch(gemv_kernel<T, 2>, blocks, kThreads, 0, s, a, table); break;
        case 3: launch(gemv_kernel<T, 3>, blocks, kThreads, 0, s, a, table); break;
        default: launch(gemv_kernel<T, 4>, blocks, kThreads, 0, s, a, table); break;
      }
    } else {
      launch(naive_kernel<T>, grid_for(a.M * a.N), kThreads, 0, s, a, table);
    }
  });
  return launch_status();
}

const char* launch_dequantize_4bit_weight(const Gemm4bitArgs& a, void* w, void* stream) {
  if (a.N * a.K == 0) return nullptr;
  const Code16 table = host_table(a);
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(dequantize_weight_kernel<T>, grid_for((a.N * a.K + 1) / 2), kThreads, 0, static_cast<gpuStream_t>(stream), a,
           table, static_cast<T*>(w));
  });
  return launch_status();
}

}  // namespace bnb::gpu
