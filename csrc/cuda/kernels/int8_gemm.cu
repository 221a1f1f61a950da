// GPU int8 GEMM C = A @ B^T (A [M, K], B [N, K], row-major int8): 64 x 64
// output tiles per 256-thread block, K in 32-byte steps through shared memory,
// each thread a 4 x 4 register tile accumulated with 4-way int8 dot products
// (dp4a on CUDA), and the int32 or fused rescale(+bias) epilogue of
// Int8GemmArgs applied from the registers.
#include "common.cuh"
#include "int8_launchers.h"

namespace bnb::gpu {
namespace {

constexpr int kTile = 64;  // output rows and columns per block
constexpr int kStep = 32;  // bytes of K per shared-memory step
constexpr int kWords = kStep / 4;

__device__ inline int dot4(int a, int b, int c) {
#if defined(BNB_GPU_HIP)
  for (int t = 0; t < 4; ++t)
    c += static_cast<int>(static_cast<int8_t>(a >> (8 * t))) * static_cast<int>(static_cast<int8_t>(b >> (8 * t)));
  return c;
#else
  return __dp4a(a, b, c);
#endif
}

// Four bytes of `row` from k (zero past K) as one little-endian word.
__device__ inline int load4(const int8_t* row, int64_t k, int64_t K) {
  uint32_t w = 0;
  for (int t = 0; t < 4; ++t)
    if (k + t < K) w |= static_cast<uint32_t>(static_cast<uint8_t>(row[k + t])) << (8 * t);
  return static_cast<int>(w);
}

template <typename T, bool kScaled>
__global__ void __launch_bounds__(256) int8_gemm_kernel(const Int8GemmArgs a) {
  __shared__ int As[kTile][kWords + 1];
  __shared__ int Bs[kTile][kWords + 1];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kTile, n0 = static_cast<int64_t>(blockIdx.x) * kTile;
  int acc[4][4] = {};
  for (int64_t k0 = 0; k0 < a.K; k0 += kStep) {
    for (int idx = threadIdx.x; idx < kTile * kWords; idx += 256) {
      const int r = idx / kWords, w = idx % kWords;
      const int64_t m = m0 + r, n = n0 + r, k = k0 + 4 * w;
      As[r][w] = m < a.M ? load4(a.A + m * a.K, k, a.K) : 0;
      Bs[r][w] = n < a.N ? load4(a.B + n * a.K, k, a.K) : 0;
    }
    __syncthreads();
#pragma unroll
    for (int w = 0; w < kWords; ++w) {
      int av[4], bv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) av[i] = As[ty * 4 + i][w], bv[i] = Bs[tx * 4 + i][w];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = dot4(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t m = m0 + ty * 4 + i;
    if (m >= a.M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t n = n0 + tx * 4 + j;
      if (n >= a.N) continue;
      if constexpr (kScaled) {
        float v = static_cast<float>(acc[i][j]) * (a.row_stats[m] * a.col_stats[n]) * kInt8MmScale;
        if (a.bias) v = v + a.bias[n];
        static_cast<T*>(a.out)[m * a.N + n] = from_f32<T>(v);
      } else {
        a.out_i32[m * a.N + n] = acc[i][j];
      }
    }
  }
}

}  // namespace

const char* launch_int8_gemm(const Int8GemmArgs& a, void* stream) {
  if (a.M == 0 || a.N == 0) return nullptr;
  const int64_t gy = (a.M + kTile - 1) / kTile, gx = (a.N + kTile - 1) / kTile;
  if (gy > 65535 || gx > 0x7FFFFFFF) return "matrix too large for one launch";
  const dim3 grid(static_cast<unsigned int>(gx), static_cast<unsigned int>(gy));
  const gpuStream_t s = static_cast<gpuStream_t>(stream);
  if (a.out_i32) {
    launch(int8_gemm_kernel<float, false>, grid, 256, 0, s, a);
  } else {
    dispatch_dtype(a.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      launch(int8_gemm_kernel<T, true>, grid, 256, 0, s, a);
    });
  }
  return launch_status();
}

}  // namespace bnb::gpu
