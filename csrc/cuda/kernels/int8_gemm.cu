// GPU int8 GEMM C = A @ B^T (A [M, K], B [N, K], row-major int8) with the int32
// or the fused rescale(+bias) epilogue of Int8GemmArgs. The CUDA/ROCm binding
// sends the shapes the vendor int8 GEMM takes (cuBLASLt / hipBLASLt through
// torch's _int_mm: more than 16 rows, K and N multiples of 8) there; these
// kernels run the rest, mostly small batches:
//  - gemv_kernel (up to 8 rows, K % 16 == 0, 16-byte aligned A and B): a group of
//    32 lanes owns 2 rows of B; each lane issues 4 16-byte chunks of both rows
//    (128 bytes, 4 KB per group in flight), then reads the matching chunks of the
//    A rows (L1-resident) and accumulates 4-way int8 dot products (dp4a); the
//    group reduces with width-32 shuffles. Bound by reading B once.
//  - tile_kernel: 64 x 64 output tiles per 256-thread block, K in 32-byte steps
//    through shared memory (16-byte loads when K % 16 == 0, byte loads
//    otherwise), a 4 x 4 register tile of dot products per thread.
// The rescale rounds exactly as the CPU kernels do (int8_rescale).
#include "matmul.cuh"  // first: the GPU runtime headers before common/half.h

#include "int8_launchers.h"

namespace bnb::gpu {
namespace {

constexpr int kGemvThreads = 128;
constexpr int kGemvRows = 2;    // rows of B per group of 32 lanes
constexpr int kGemvUnroll = 4;  // 16-byte chunks of each row in flight per lane (128 bytes)

template <typename T, bool kScaled>
__device__ __forceinline__ void store_result(const Int8GemmArgs& a, int64_t m, int64_t n, int32_t c) {
  if constexpr (kScaled)
    static_cast<T*>(a.out)[m * a.N + n] = int8_rescale<T>(c, a.row_stats[m], a.col_stats[n], a.bias, n);
  else
    a.out_i32[m * a.N + n] = c;
}

template <typename T, bool kScaled, int MR>
__global__ void __launch_bounds__(kGemvThreads) gemv_kernel(const Int8GemmArgs a) {
  const int lane = threadIdx.x % 32;
  const int64_t n0 = (static_cast<int64_t>(blockIdx.x) * (kGemvThreads / 32) + threadIdx.x / 32) * kGemvRows;
  const int64_t chunks = a.K / 16;
  int acc[MR][kGemvRows] = {};
  for (int64_t c0 = lane; c0 < chunks; c0 += 32 * kGemvUnroll) {
    uint4 b[kGemvUnroll][kGemvRows];  // all loads of the step issued before the first use
#pragma unroll
    for (int u = 0; u < kGemvUnroll; ++u)
#pragma unroll
      for (int r = 0; r < kGemvRows; ++r) {
        const int64_t c = c0 + 32 * u, n = n0 + r;
        b[u][r] = c < chunks && n < a.N ? load_stream16(a.B + n * a.K + 16 * c) : make_uint4(0, 0, 0, 0);
      }
#pragma unroll
    for (int u = 0; u < kGemvUnroll; ++u) {
      const int64_t c = c0 + 32 * u;
      if (c >= chunks) break;
#pragma unroll
      for (int m = 0; m < MR; ++m) {
        if (m >= a.M) break;
        const int4 x = *reinterpret_cast<const int4*>(a.A + m * a.K + 16 * c);
#pragma unroll
        for (int r = 0; r < kGemvRows; ++r) {
          int v = dot4(x.x, static_cast<int>(b[u][r].x), acc[m][r]);
          v = dot4(x.y, static_cast<int>(b[u][r].y), v);
          v = dot4(x.z, static_cast<int>(b[u][r].z), v);
          acc[m][r] = dot4(x.w, static_cast<int>(b[u][r].w), v);
        }
      }
    }
  }
#pragma unroll
  for (int m = 0; m < MR; ++m)
#pragma unroll
    for (int r = 0; r < kGemvRows; ++r) {
      const int total = group32_sum(acc[m][r]);  // every lane takes part (a block barrier on HIP-CPU)
      if (lane == 0 && m < a.M && n0 + r < a.N) store_result<T, kScaled>(a, m, n0 + r, total);
    }
}

constexpr int kTile = 64;  // output rows and columns per block
constexpr int kStep = 32;  // bytes of K per shared-memory step
constexpr int kWords = kStep / 4;

// Four bytes of `row` from k (zero past K) as one little-endian word.
__device__ __forceinline__ int load4(const int8_t* row, int64_t k, int64_t K) {
  uint32_t w = 0;
  for (int t = 0; t < 4; ++t)
    if (k + t < K) w |= static_cast<uint32_t>(static_cast<uint8_t>(row[k + t])) << (8 * t);
  return static_cast<int>(w);
}

template <typename T, bool kScaled, bool kVec>
__global__ void __launch_bounds__(256) tile_kernel(const Int8GemmArgs a) {
  __shared__ int As[kTile][kWords + 1];
  __shared__ int Bs[kTile][kWords + 1];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kTile, n0 = static_cast<int64_t>(blockIdx.x) * kTile;
  int acc[4][4] = {};
  for (int64_t k0 = 0; k0 < a.K; k0 += kStep) {
    if constexpr (kVec) {  // threads 0..127 load A, 128..255 B: 64 rows x two 16-byte halves
      const bool is_b = threadIdx.x >= 128;
      const int r = (threadIdx.x % 128) / 2, half = threadIdx.x % 2;
      const int64_t row = (is_b ? n0 : m0) + r, k = k0 + 16 * half;
      int4 v = make_int4(0, 0, 0, 0);
      if (row < (is_b ? a.N : a.M) && k < a.K) v = *reinterpret_cast<const int4*>((is_b ? a.B : a.A) + row * a.K + k);
      int (*dst)[kWords + 1] = is_b ? Bs : As;
      dst[r][4 * half] = v.x, dst[r][4 * half + 1] = v.y, dst[r][4 * half + 2] = v.z, dst[r][4 * half + 3] = v.w;
    } else {
      for (int idx = threadIdx.x; idx < kTile * kWords; idx += 256) {
        const int r = idx / kWords, w = idx % kWords;
        const int64_t m = m0 + r, n = n0 + r, k = k0 + 4 * w;
        As[r][w] = m < a.M ? load4(a.A + m * a.K, k, a.K) : 0;
        Bs[r][w] = n < a.N ? load4(a.B + n * a.K, k, a.K) : 0;
      }
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
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t m = m0 + ty * 4 + i, n = n0 + tx * 4 + j;
      if (m < a.M && n < a.N) store_result<T, kScaled>(a, m, n, acc[i][j]);
    }
}

template <typename T, bool kScaled>
const char* launch_for(const Int8GemmArgs& a, gpuStream_t s) {
  const bool vec =
      a.K % 16 == 0 && reinterpret_cast<uintptr_t>(a.A) % 16 == 0 && reinterpret_cast<uintptr_t>(a.B) % 16 == 0;
  if (vec && a.M <= 8) {
    const int64_t rows_per_block = kGemvThreads / 32 * kGemvRows;
    const unsigned int blocks = static_cast<unsigned int>((a.N + rows_per_block - 1) / rows_per_block);
    if (a.M <= 2)
      launch(gemv_kernel<T, kScaled, 2>, blocks, kGemvThreads, 0, s, a);
    else if (a.M <= 4)
      launch(gemv_kernel<T, kScaled, 4>, blocks, kGemvThreads, 0, s, a);
    else
      launch(gemv_kernel<T, kScaled, 8>, blocks, kGemvThreads, 0, s, a);
    return nullptr;
  }
  const int64_t gy = (a.M + kTile - 1) / kTile, gx = (a.N + kTile - 1) / kTile;
  if (gy > 65535 || gx > 0x7FFFFFFF) return "matrix too large for one launch";
  const dim3 grid(static_cast<unsigned int>(gx), static_cast<unsigned int>(gy));
  if (vec)
    launch(tile_kernel<T, kScaled, true>, grid, 256, 0, s, a);
  else
    launch(tile_kernel<T, kScaled, false>, grid, 256, 0, s, a);
  return nullptr;
}

}  // namespace

const char* launch_int8_gemm(const Int8GemmArgs& a, void* stream) {
  if (a.M == 0 || a.N == 0) return nullptr;
  const gpuStream_t s = static_cast<gpuStream_t>(stream);
  const char* err = nullptr;
  if (a.out_i32) {
    err = launch_for<float, false>(a, s);
  } else {
    dispatch_dtype(a.dtype, [&](auto tag) { err = launch_for<typename decltype(tag)::type, true>(a, s); });
  }
  return err != nullptr ? err : launch_status();
}

}  // namespace bnb::gpu
