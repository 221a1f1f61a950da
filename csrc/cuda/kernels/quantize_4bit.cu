// GPU 4-bit quantization: one thread block per quantization block. Produces
// the CPU path's bytes exactly (same absmax rule, scaling and nearest code).
#include "common.cuh"
#include "launchers.h"

namespace bnb::gpu {
namespace {

template <typename T>
__global__ void quantize_4bit_kernel(const T* __restrict__ x, int64_t n, int64_t blocksize, FourBitTables t,
                                     uint8_t* __restrict__ packed, float* __restrict__ absmax) {
  __shared__ float smax[kThreads];
  __shared__ int snan[kThreads];
  const int64_t b = blockIdx.x;
  const int64_t start = b * blocksize;
  const int64_t len = n - start < blocksize ? n - start : blocksize;
  float m = 0.0f;
  int nan = 0;
  for (int64_t i = threadIdx.x; i < len; i += kThreads) {
    const float v = fabsf(to_f32(x[start + i]));
    if (v != v)
      nan = 1;
    else
      m = v > m ? v : m;
  }
  m = block_reduce<kThreads>(m, smax, [](float a, float c) { return a > c ? a : c; });
  nan = block_reduce<kThreads>(nan, snan, [](int a, int c) { return a | c; });
  const float raw = nan ? f32_from_bits(0x7FC00000u) : m;
  const float clamped = raw != raw ? raw : (raw < k4bitAbsmaxFloor ? k4bitAbsmaxFloor : raw);
  if (threadIdx.x == 0) absmax[b] = len == blocksize ? raw : clamped;
  const float inv = 1.0f / clamped;
  const bool partial = len != blocksize;
  for (int64_t p = threadIdx.x; p < (len + 1) / 2; p += kThreads) {
    const int64_t e = start + 2 * p;
    const uint8_t hi = t.to_code[nearest_4bit_sorted_position(scale_4bit(to_f32(x[e]), clamped, inv, partial), t.mids)];
    const uint8_t lo =
        2 * p + 1 < len
            ? t.to_code[nearest_4bit_sorted_position(scale_4bit(to_f32(x[e + 1]), clamped, inv, partial), t.mids)]
            : t.zero_code;
    packed[e / 2] = pack_nibbles(hi, lo);
  }
}

}  // namespace

const char* launch_quantize_4bit(const Quantize4bitArgs& a, void* stream) {
  const int64_t blocks = num_blocks(a.n, a.blocksize);
  if (blocks == 0) return nullptr;
  const FourBitTables t = four_bit_tables(a.quant_type);
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(quantize_4bit_kernel<T>, static_cast<unsigned int>(blocks), kThreads, 0, static_cast<gpuStream_t>(stream),
           static_cast<const T*>(a.input), a.n, a.blocksize, t, a.packed, a.absmax);
  });
  return launch_status();
}

}  // namespace bnb::gpu
