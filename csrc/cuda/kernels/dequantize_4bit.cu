// GPU 4-bit dequantization: one packed byte (two outputs) per thread, grid-stride.
#include "common.cuh"
#include "launchers.h"

namespace bnb::gpu {
namespace {

template <typename T>
__global__ void dequantize_4bit_kernel(const uint8_t* __restrict__ packed, const float* __restrict__ absmax, int64_t n,
                                       int64_t blocksize, FourBitTables t, T* __restrict__ out) {
  const int64_t nbytes = (n + 1) / 2;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < nbytes; i += stride) {
    const uint8_t byte = packed[i];
    const int64_t e = 2 * i;
    out[e] = from_f32<T>(t.code[high_nibble(byte)] * absmax[e / blocksize]);
    if (e + 1 < n) out[e + 1] = from_f32<T>(t.code[low_nibble(byte)] * absmax[(e + 1) / blocksize]);
  }
}

}  // namespace

const char* launch_dequantize_4bit(const Dequantize4bitArgs& a, void* stream) {
  if (a.n == 0) return nullptr;
  const FourBitTables t = four_bit_tables(a.quant_type);
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(dequantize_4bit_kernel<T>, grid_for((a.n + 1) / 2), kThreads, 0, static_cast<gpuStream_t>(stream), a.packed,
           a.absmax, a.n, a.blocksize, t, static_cast<T*>(a.out));
  });
  return launch_status();
}

}  // namespace bnb::gpu
