// GPU 4-bit dequantization, grid-stride: each thread turns 8 packed bytes (one
// 8-byte load) into 16 outputs (two 16-byte stores for fp16/bf16, four for
// fp32) with one absmax load (16 consecutive elements never straddle a block:
// blocksizes are powers of two >= 32). The code table sits in shared memory.
#include "common.cuh"
#include "launchers.h"

namespace bnb::gpu {
namespace {

constexpr int kPer = 16;  // outputs per thread and step

template <typename T>
__global__ void __launch_bounds__(kThreads)
    dequantize_4bit_kernel(const uint8_t* __restrict__ packed, const float* __restrict__ absmax, int64_t n,
                           int64_t blocksize, FourBitTables t, bool vec, T* __restrict__ out) {
  __shared__ float code[16];
  if (threadIdx.x < 16) code[threadIdx.x] = t.code[threadIdx.x];
  __syncthreads();
  const int64_t chunks = (n + kPer - 1) / kPer;
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; c < chunks;
       c += static_cast<int64_t>(gridDim.x) * kThreads) {
    const int64_t e0 = c * kPer;
    const float s = absmax[e0 / blocksize];
    if (vec && e0 + kPer <= n) {
      uint8_t b[kPer / 2];
      load_bytes<kPer / 2>(packed + e0 / 2, b);
      float v[kPer];
#pragma unroll
      for (int i = 0; i < kPer / 2; ++i)
        v[2 * i] = code[high_nibble(b[i])] * s, v[2 * i + 1] = code[low_nibble(b[i])] * s;
      store_vec<kPer>(out + e0, v);
    } else {
      for (int64_t e = e0; e < n && e < e0 + kPer; ++e) {
        const uint8_t byte = packed[e / 2];
        out[e] = from_float<T>(code[(e & 1) ? low_nibble(byte) : high_nibble(byte)] * s);
      }
    }
  }
}

}  // namespace

const char* launch_dequantize_4bit(const Dequantize4bitArgs& a, void* stream) {
  if (a.n == 0) return nullptr;
  const FourBitTables t = four_bit_tables(a.quant_type);
  const bool vec = aligned(a.packed, kPer / 2) && aligned(a.out, 16);
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(dequantize_4bit_kernel<T>, grid_for((a.n + kPer - 1) / kPer), kThreads, 0, static_cast<gpuStream_t>(stream),
           a.packed, a.absmax, a.n, a.blocksize, t, vec, static_cast<T*>(a.out));
  });
  return launch_status();
}

}  // namespace bnb::gpu
