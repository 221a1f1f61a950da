// GPU 4-bit matmul for any batch without tensor cores (ROCm, sm_75, fp32 A), and
// the weight dequantization of the dequantize + vendor GEMM path.
//
// tiled_kernel: 256 threads compute a 64 x 64 output tile (4 x 4 per thread, fp32
// FMA). Per 64-wide K step the block stages A (64 rows, 16-byte loads) and W (64
// rows x 32 packed bytes, 8 bytes per thread, decoded once as cast(code * scale)
// exactly as dequantize_4bit writes it) in shared memory, k-major so each thread
// reads its 4 rows / 4 columns as one 16-byte load. Each decoded weight serves up
// to 64 batch rows; W is read from memory once per 64 batch rows. Needs K % 32 == 0
// and 16-byte aligned A and W (gemm_4bit_path_applies).
//
// dequantize_weight_kernel: one thread per 32 weights (16 packed bytes, one scale),
// written with 16-byte stores.
#include "gemm_4bit_internal.cuh"

namespace bnb::gpu {
namespace {

constexpr int kTile = 64;  // batch rows, weight rows and K per step

template <typename T>
__global__ void __launch_bounds__(256) tiled_kernel(const Gemm4bitArgs a, const Code16 table, const int bs_shift) {
  __shared__ float code[16];
  alignas(16) __shared__ float As[kTile][kTile];  // [k][m]
  alignas(16) __shared__ float Ws[kTile][kTile];  // [k][n]
  store_code(code, a.code, table);
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kTile, n0 = static_cast<int64_t>(blockIdx.x) * kTile;
  const T* A = static_cast<const T*>(a.A);
  const int64_t row_bytes = a.K / 2;
  float acc[4][4] = {};
  for (int64_t k0 = 0; k0 < a.K; k0 += kTile) {
    __syncthreads();  // (also publishes the code table before the first decode)
    // A: 64 rows x 8 vectors of 8 elements; thread -> row tid % 64, vectors tid / 64 and + 4
    for (int v = tid / kTile; v < kTile / 8; v += 256 / kTile) {
      const int r = tid % kTile;
      const int64_t m = m0 + r, k = k0 + 8 * v;
      float x[8] = {};
      if (m < a.M && k < a.K) load8(A + m * a.K + k, x);
      for (int j = 0; j < 8; ++j) As[8 * v + j][r] = x[j];
    }
    // W: 64 rows x 4 pieces of 16 weights; thread -> row tid % 64, piece tid / 64
    {
      const int r = tid % kTile, piece = tid / kTile;
      const int64_t n = n0 + r, k = k0 + 16 * piece;
      float w[16] = {};
      if (n < a.N && k < a.K) {
        const uint2 q = *reinterpret_cast<const uint2*>(a.B + n * row_bytes + k / 2);
        const float s = block_scale(a, (n * a.K + k) >> bs_shift);
        decode8(code, q.x, w);
        decode8(code, q.y, w + 8);
        for (int j = 0; j < 16; ++j) w[j] = to_float(from_float<T>(mul_rn(w[j], s)));
      }
      for (int j = 0; j < 16; ++j) Ws[16 * piece + j][r] = w[j];
    }
    __syncthreads();
#pragma unroll 8
    for (int k = 0; k < kTile; ++k) {
      const float4 x = *reinterpret_cast<const float4*>(&As[k][4 * ty]);
      const float4 w = *reinterpret_cast<const float4*>(&Ws[k][4 * tx]);
      const float xv[4] = {x.x, x.y, x.z, x.w}, wv[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] += xv[i] * wv[j];
    }
  }
  T* out = static_cast<T*>(a.out);
  for (int i = 0; i < 4; ++i) {
    const int64_t m = m0 + 4 * ty + i;
    for (int j = 0; j < 4; ++j) {
      const int64_t n = n0 + 4 * tx + j;
      if (m < a.M && n < a.N) out[m * a.N + n] = from_float<T>(acc[i][j] + (a.bias != nullptr ? a.bias[n] : 0.0f));
    }
  }
}

// Stores 32 consecutive values of T from fp32 (16-byte aligned destination).
template <typename T>
__device__ __forceinline__ void store32(T* dst, const float* v) {
  if constexpr (std::is_same_v<T, float>) {
    for (int i = 0; i < 8; ++i)
      reinterpret_cast<float4*>(dst)[i] = make_float4(v[4 * i], v[4 * i + 1], v[4 * i + 2], v[4 * i + 3]);
  } else {
    for (int i = 0; i < 4; ++i) {
      const float* p = v + 8 * i;
      reinterpret_cast<uint4*>(dst)[i] =
          make_uint4(pack2<T>(p[0], p[1]), pack2<T>(p[2], p[3]), pack2<T>(p[4], p[5]), pack2<T>(p[6], p[7]));
    }
  }
}

template <typename T>
__global__ void dequantize_weight_kernel(const Gemm4bitArgs a, const Code16 table, const int bs_shift, T* w,
                                         const bool vector) {
  __shared__ float code[16];
  store_code(code, a.code, table);
  __syncthreads();
  const int64_t n = a.N * a.K;
  const int64_t chunks = (n + 31) / 32;
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < chunks;
       c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t e0 = 32 * c;
    if (vector && e0 + 32 <= n) {  // one scale: blocks are >= 32 elements and 32-aligned
      const uint4 q = load_stream16(a.B + e0 / 2);
      const float s = block_scale(a, e0 >> bs_shift);
      float v[32];
      decode8(code, q.x, v);
      decode8(code, q.y, v + 8);
      decode8(code, q.z, v + 16);
      decode8(code, q.w, v + 24);
      for (int i = 0; i < 32; ++i) v[i] = mul_rn(v[i], s);
      store32(w + e0, v);
    } else {
      for (int64_t e = e0; e < e0 + 32 && e < n; ++e) {
        const uint8_t byte = a.B[e / 2];
        w[e] =
            from_float<T>(mul_rn(code[(e & 1) ? low_nibble(byte) : high_nibble(byte)], block_scale(a, e >> bs_shift)));
      }
    }
  }
}

}  // namespace

const char* launch_gemm_4bit_tiled(const Gemm4bitArgs& a, void* stream) {
  const int64_t gy = (a.M + kTile - 1) / kTile, gx = (a.N + kTile - 1) / kTile;
  if (gy > 65535 || gx > 0x7FFFFFFF) return "gemm_4bit: matrix too large for one launch";
  const dim3 grid(static_cast<unsigned int>(gx), static_cast<unsigned int>(gy));
  const Code16 table = code16(a.quant_type);
  const int shift = log2_blocksize(a.blocksize);
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(tiled_kernel<T>, grid, 256, 0, static_cast<gpuStream_t>(stream), a, table, shift);
  });
  return launch_status();
}

const char* launch_dequantize_4bit_weight(const Gemm4bitArgs& a, void* w, void* stream) {
  const int64_t n = a.N * a.K;
  if (n == 0) return nullptr;
  const Code16 table = code16(a.quant_type);
  const bool vector = aligned16(a.B) && aligned16(w);
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(dequantize_weight_kernel<T>, grid_for((n + 31) / 32), kThreads, 0, static_cast<gpuStream_t>(stream), a,
           table, log2_blocksize(a.blocksize), static_cast<T*>(w), vector);
  });
  return launch_status();
}

}  // namespace bnb::gpu
