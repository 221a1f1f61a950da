// Device helpers shared by the GPU kernels.
#pragma once

#include "../../common/compat.h"
#include "../../common/dispatch.h"
#include "../../common/format.h"
#include "../../common/half.h"

namespace bnb::gpu {

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

// Block-wide reduction through shared memory; every thread gets the result.
template <int kBlock, typename T, typename Op>
__device__ inline T block_reduce(T v, T* smem, Op op) {
  smem[threadIdx.x] = v;
  __syncthreads();
  for (int s = kBlock / 2; s > 0; s >>= 1) {
    if (static_cast<int>(threadIdx.x) < s) smem[threadIdx.x] = op(smem[threadIdx.x], smem[threadIdx.x + s]);
    __syncthreads();
  }
  const T r = smem[0];
  __syncthreads();
  return r;
}

inline const char* launch_status() {
  const gpuError_t e = gpuGetLastError();
  return e == gpuSuccess ? nullptr : gpuGetErrorString(e);
}

}  // namespace bnb::gpu
