// GPU 4-bit quantization. Produces the CPU path's bytes exactly (same absmax
// rule, scaling and nearest code; docs/formats.md).
//
// A team of kTeam threads quantizes one block, kPer consecutive elements per
// thread (blocksize = kTeam * kPer; kPer = 8, or 16 at blocksize 4096): one
// 16-byte load per 8 fp16/bf16 elements (two for fp32) and one 4-byte store
// per 8 codes. Small blocksizes put several blocks in one 256-thread block
// (blocksize 64: 8-thread teams, 32 blocks) and reduce the absmax with
// shuffles; blocksizes >= 512 use one block per thread block and a block
// reduction. The nearest code is a 4-step search of the 15 midpoints in
// shared memory.
#include "common.cuh"
#include "launchers.h"

namespace bnb::gpu {
namespace {

template <typename T, int kTeam, int kPer>
__global__ void __launch_bounds__(kTeam <= 32 ? kThreads : kTeam)
    quantize_4bit_kernel(const T* __restrict__ x, int64_t n, FourBitTables t, bool vec, uint8_t* __restrict__ packed,
                         float* __restrict__ absmax) {
  constexpr int kBlock = kTeam <= 32 ? kThreads : kTeam;
  constexpr int kTeams = kBlock / kTeam;  // quantization blocks per thread block and step
  constexpr int64_t kBlocksize = static_cast<int64_t>(kTeam) * kPer;
  __shared__ float mids[16];  // Eytzinger order at [1, 15]
  if (threadIdx.x >= 1 && threadIdx.x < 16) mids[threadIdx.x] = t.mids[eytzinger_source<4>(threadIdx.x)];
  __syncthreads();
  uint64_t to_code = 0;  // sorted position -> code, 4 bits each
  for (int i = 0; i < 16; ++i) to_code |= static_cast<uint64_t>(t.to_code[i]) << (4 * i);

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
    int nan = 0;
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      const float a = fabsf(v[j]);
      nan |= a != a;
      m = a > m ? a : m;
    }
    m = team_allreduce<kTeam>(m, MaxOp{});
    nan = team_allreduce<kTeam>(nan, OrOp{});
    if (b >= nblocks) continue;  // past the end (no reduction follows in this step)
    const float raw = nan ? f32_from_bits(0x7FC00000u) : m;
    const float clamped = raw != raw ? raw : (raw < k4bitAbsmaxFloor ? k4bitAbsmaxFloor : raw);
    const int64_t len = n - b * kBlocksize < kBlocksize ? n - b * kBlocksize : kBlocksize;
    if (lane == 0) absmax[b] = len == kBlocksize ? raw : clamped;
    const float inv = 1.0f / clamped;
    const bool partial = len != kBlocksize;
    uint8_t bytes[kPer / 2];
#pragma unroll
    for (int j = 0; j < kPer; j += 2) {
      const int hi = eytzinger_rank<4, true>(mids, scale_4bit(v[j], clamped, inv, partial));
      const int lo = eytzinger_rank<4, true>(mids, scale_4bit(v[j + 1], clamped, inv, partial));
      const uint8_t lo_code = e0 + j + 1 < n ? static_cast<uint8_t>((to_code >> (4 * lo)) & 0xF) : t.zero_code;
      bytes[j / 2] = pack_nibbles(static_cast<uint8_t>((to_code >> (4 * hi)) & 0xF), lo_code);
    }
    if (full) {
      store_bytes<kPer / 2>(packed + e0 / 2, bytes);
    } else {
      for (int j = 0; j < kPer && e0 + j < n; j += 2) packed[(e0 + j) / 2] = bytes[j / 2];
    }
  }
}

template <typename T, int kTeam, int kPer>
void launch_quantize(const Quantize4bitArgs& a, const FourBitTables& t, gpuStream_t s) {
  constexpr int kBlock = kTeam <= 32 ? kThreads : kTeam;
  const int64_t steps = (num_blocks(a.n, a.blocksize) + kBlock / kTeam - 1) / (kBlock / kTeam);
  // 16-byte input loads, 4- or 8-byte stores of the codes
  const bool vec = aligned(a.input, 16) && aligned(a.packed, kPer / 2);
  launch(quantize_4bit_kernel<T, kTeam, kPer>, grid_for(steps, 1), kBlock, 0, s, static_cast<const T*>(a.input), a.n, t,
         vec, a.packed, a.absmax);
}

}  // namespace

const char* launch_quantize_4bit(const Quantize4bitArgs& a, void* stream) {
  if (a.n == 0) return nullptr;
  const FourBitTables t = four_bit_tables(a.quant_type);
  const gpuStream_t s = static_cast<gpuStream_t>(stream);
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    switch (a.blocksize) {
      case 32: launch_quantize<T, 4, 8>(a, t, s); break;
      case 64: launch_quantize<T, 8, 8>(a, t, s); break;
      case 128: launch_quantize<T, 16, 8>(a, t, s); break;
      case 256: launch_quantize<T, 32, 8>(a, t, s); break;
      case 512: launch_quantize<T, 64, 8>(a, t, s); break;
      case 1024: launch_quantize<T, 128, 8>(a, t, s); break;
      case 2048: launch_quantize<T, 256, 8>(a, t, s); break;
      default: launch_quantize<T, 256, 16>(a, t, s); break;  // 4096
    }
  });
  return launch_status();
}

}  // namespace bnb::gpu
