// GPU 4-bit matmul for small batches, and the dispatch of every gemm_4bit kernel.
//
// gemv_kernel (up to 4 batch rows, K % 32 == 0, A and W 16-byte aligned): a group
// of 32 lanes owns R weight rows (R = 4 for 1-2 batch rows, 2 for 3-4). A lane
// reads 16-byte chunks (32 weights of one row) at chunk lane, lane + 32, ...; it
// issues U chunks for each of its R rows (R * U = 8 loads, 128 bytes) before
// using any, so a group has 4 KB of weights in flight. Each 32 weights lie in one
// quant block (blocksize >= 32, a power of two: block = flat index >> shift): the
// lane sums code * a over the chunk in fp32 and multiplies that by the block scale
// once. Codes come from a 16-entry fp32 table in shared memory (one conflict-free
// lookup and one byte extraction per weight, decode8); A is read with 16-byte
// loads (L1-resident, shared by the R rows) and converted with the hardware
// instructions; one fma per weight and batch row. The group's partial sums are
// reduced with width-32 shuffles (so it also runs in CDNA's 64-lane wavefronts).
//
// plain_kernel: any shape, one thread per output (small odd shapes only).
#include "gemm_4bit_internal.cuh"

namespace bnb::gpu {
namespace {

constexpr int kGemvThreads = 128;  // 4 groups of 32 lanes
constexpr int kGemvGroups = kGemvThreads / 32;

__device__ __forceinline__ uint32_t word_of(const uint4& v, int q) {
  return q == 0 ? v.x : q == 1 ? v.y : q == 2 ? v.z : v.w;
}

template <typename T, int MR, int R>
__global__ void __launch_bounds__(kGemvThreads)
    gemv_kernel(const Gemm4bitArgs a, const Code16 table, const int bs_shift) {
  constexpr int U = 8 / R;  // chunks of each row in flight
  __shared__ float code[16];
  store_code(code, a.code, table);
  __syncthreads();
  const int lane = threadIdx.x % 32;
  const int64_t n0 = (static_cast<int64_t>(blockIdx.x) * kGemvGroups + threadIdx.x / 32) * R;
  const int64_t chunks = a.K / 32;
  const int64_t row_bytes = a.K / 2;
  const T* A = static_cast<const T*>(a.A);
  float acc[MR][R];
  for (int m = 0; m < MR; ++m)
    for (int r = 0; r < R; ++r) acc[m][r] = 0.0f;

  for (int64_t c0 = lane; c0 < chunks; c0 += 32 * U) {
    uint4 w[U][R];
    float s[U][R];
#pragma unroll
    for (int u = 0; u < U; ++u)
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const int64_t c = c0 + 32 * u, n = n0 + r;
        if (c < chunks && n < a.N) {
          w[u][r] = load_stream16(a.B + n * row_bytes + c * 16);
          s[u][r] = block_scale(a, (n * a.K + c * 32) >> bs_shift);
        } else {
          w[u][r] = make_uint4(0, 0, 0, 0);
          s[u][r] = 0.0f;
        }
      }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t c = c0 + 32 * u;
      if (c >= chunks) break;
      float part[MR][R];
#pragma unroll
      for (int m = 0; m < MR; ++m)
#pragma unroll
        for (int r = 0; r < R; ++r) part[m][r] = 0.0f;
#pragma unroll
      for (int q = 0; q < 4; ++q) {  // 8 weights per word: bytes b hold elements 2b (high nibble), 2b + 1
        float x[MR][8];
#pragma unroll
        for (int m = 0; m < MR; ++m) load8(A + m * a.K + c * 32 + q * 8, x[m]);
#pragma unroll
        for (int r = 0; r < R; ++r) {
          float c[8];
          decode8(code, word_of(w[u][r], q), c);
#pragma unroll
          for (int i = 0; i < 8; ++i)
#pragma unroll
            for (int m = 0; m < MR; ++m) part[m][r] += x[m][i] * c[i];  // one fma each
        }
      }
#pragma unroll
      for (int m = 0; m < MR; ++m)
#pragma unroll
        for (int r = 0; r < R; ++r) acc[m][r] += part[m][r] * s[u][r];
    }
  }

  T* out = static_cast<T*>(a.out);
#pragma unroll
  for (int m = 0; m < MR; ++m)
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const float total = group32_sum(acc[m][r]);  // every lane takes part (a block barrier on HIP-CPU)
      const int64_t n = n0 + r;
      if (lane == 0 && n < a.N) out[m * a.N + n] = from_float<T>(total + (a.bias != nullptr ? a.bias[n] : 0.0f));
    }
}

template <typename T>
__global__ void plain_kernel(const Gemm4bitArgs a, const Code16 table, const int bs_shift) {
  __shared__ float code[16];
  store_code(code, a.code, table);
  __syncthreads();
  const int64_t total = a.M * a.N;
  const T* A = static_cast<const T*>(a.A);
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < total;
       o += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t m = o / a.N, n = o % a.N;
    float acc = 0.0f;
    for (int64_t k = 0; k < a.K; ++k) {
      const int64_t e = n * a.K + k;
      const uint8_t byte = a.B[e / 2];
      const float w = code[(e & 1) ? low_nibble(byte) : high_nibble(byte)] * block_scale(a, e >> bs_shift);
      acc += to_float(A[m * a.K + k]) * to_float(from_float<T>(w));  // W rounded as dequantize_4bit gives it
    }
    static_cast<T*>(a.out)[o] = from_float<T>(acc + (a.bias != nullptr ? a.bias[n] : 0.0f));
  }
}

template <typename T, int MR>
void launch_gemv(const Gemm4bitArgs& a, const Code16& table, int shift, gpuStream_t s) {
  constexpr int R = MR <= 2 ? 4 : 2;
  const int64_t rows_per_block = kGemvGroups * R;
  const unsigned int blocks = static_cast<unsigned int>((a.N + rows_per_block - 1) / rows_per_block);
  launch(gemv_kernel<T, MR, R>, blocks, kGemvThreads, 0, s, a, table, shift);
}

}  // namespace

const char* launch_gemm_4bit(const Gemm4bitArgs& a, Gemm4bitPath path, void* stream) {
  if (a.M == 0 || a.N == 0) return nullptr;
  if (path == Gemm4bitPath::kTiled) return launch_gemm_4bit_tiled(a, stream);
  if (path == Gemm4bitPath::kMma) return launch_gemm_4bit_mma(a, stream);
  const Code16 table = code16(a.quant_type);
  const int shift = log2_blocksize(a.blocksize);
  const gpuStream_t s = static_cast<gpuStream_t>(stream);
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (path == Gemm4bitPath::kGemv) {
      switch (a.M) {
        case 1: launch_gemv<T, 1>(a, table, shift, s); break;
        case 2: launch_gemv<T, 2>(a, table, shift, s); break;
        case 3: launch_gemv<T, 3>(a, table, shift, s); break;
        default: launch_gemv<T, 4>(a, table, shift, s); break;
      }
    } else {
      launch(plain_kernel<T>, grid_for(a.M * a.N), kThreads, 0, s, a, table, shift);
    }
  });
  return launch_status();
}

}  // namespace bnb::gpu
