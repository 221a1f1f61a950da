// GPU 4-bit matmul on tensor cores (fp16/bf16 A, sm_80+): mma.sync m16n8k16 with
// fp32 accumulation, the weights decoded in registers straight into the B
// fragments (no shared-memory staging, no dequantized copy).
//
// Layout. A block has 8 warps = NG weight-row groups x KG K-slices. A warp owns
// NT tiles of 8 weight rows (the mma's n) and MT tiles of 16 batch rows (its m),
// and walks the 128-wide K chunks c = kg, kg + KG, ... In a chunk, lane (g, t)
// (g = lane / 4, t = lane % 4) loads the 16 packed bytes of weight row g holding
// k = 32t .. 32t + 31 of the chunk: one 128-bit load, one quant block, one scale.
// The mma's k index is a permutation of the chunk's k: in step s (0..7) the
// fragment slots (2t, 2t + 1, 2t + 8, 2t + 9) of lane t hold k = 32t + 4s + (0, 1,
// 2, 3), i.e. packed bytes 2s and 2s + 1 of the lane's 16 (high nibble first).
// The activations take the same permutation: lane (g, t) loads rows g and g + 8,
// k = 32t + 8j .. 8j + 7 with 16-byte loads (two steps each), so A needs no
// shuffles either. Each weight is decoded once per block as cast(code * scale)
// (fp32 product, one rounding: the dequantize_4bit value) and used by 16 * MT
// batch rows. The KG partial sums meet in shared memory; bias and the cast to
// the output dtype are applied from the accumulators.
//
// Bytes in flight: each lane prefetches the next chunk's NT weight loads while
// the current chunk runs (2 * NT * 16 bytes), i.e. 8 warps x 2 KB (NT = 2) per
// block; small batches use KG = 8 K-slices so N = 4096 still gives 256 blocks.
//
// Without sm_80 (older CUDA targets, ROCm, the HIP CPU runtime of the tests) the
// same kernel runs with a shared-memory emulation of the mma (exact products,
// fp32 sums), so the layout logic is tested on the CPU; the launcher is only
// chosen on sm_80+ devices (gemm_4bit_path_applies).
#include "gemm_4bit_internal.cuh"

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define BNB_MMA_NATIVE 1
#else
#define BNB_MMA_NATIVE 0
#endif

namespace bnb::gpu {
namespace {

constexpr int kWarps = 8;

// One warp's fragments as floats, for the emulation.
struct MmaScratch {
  float a[16][16];
  float b[16][8];
};

// c += A (16 x 16) * B (16 x 8), fragments as in the PTX ISA (mma.m16n8k16, .f16/.bf16):
// a[0] = A[g][2t, 2t+1], a[1] = A[g+8][2t, 2t+1], a[2] = A[g][2t+8, 2t+9], a[3] = A[g+8][2t+8, 2t+9];
// b0 = B[2t, 2t+1][g], b1 = B[2t+8, 2t+9][g]; c = C[g][2t, 2t+1], C[g+8][2t, 2t+1].
// The emulation synchronises the block: every thread must call it equally often.
template <typename T>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1,
                                         MmaScratch* scratch) {
#if BNB_MMA_NATIVE
  (void)scratch;
  if constexpr (std::is_same_v<T, fp16_t>) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
#else
  const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  MmaScratch& s = scratch[threadIdx.x / 32];
  unpack2<T>(a[0], s.a[g][2 * t], s.a[g][2 * t + 1]);
  unpack2<T>(a[1], s.a[g + 8][2 * t], s.a[g + 8][2 * t + 1]);
  unpack2<T>(a[2], s.a[g][2 * t + 8], s.a[g][2 * t + 9]);
  unpack2<T>(a[3], s.a[g + 8][2 * t + 8], s.a[g + 8][2 * t + 9]);
  unpack2<T>(b0, s.b[2 * t][g], s.b[2 * t + 1][g]);
  unpack2<T>(b1, s.b[2 * t + 8][g], s.b[2 * t + 9][g]);
  __syncthreads();
  for (int k = 0; k < 16; ++k) {
    c[0] += s.a[g][k] * s.b[k][2 * t];
    c[1] += s.a[g][k] * s.b[k][2 * t + 1];
    c[2] += s.a[g + 8][k] * s.b[k][2 * t];
    c[3] += s.a[g + 8][k] * s.b[k][2 * t + 1];
  }
  __syncthreads();
#endif
}

__device__ __forceinline__ uint2 load_cached8(const void* p) {
#if defined(BNB_CUDA_DEVICE)
  return __ldg(reinterpret_cast<const uint2*>(p));
#else
  return *reinterpret_cast<const uint2*>(p);
#endif
}

__device__ __forceinline__ uint32_t word_of(const uint4& v, int q) {
  return q == 0 ? v.x : q == 1 ? v.y : q == 2 ? v.z : v.w;
}

template <int MT, int NT, int KG>
struct MmaConfig {
  static constexpr int kNG = kWarps / KG;                  // weight-row groups per block
  static constexpr int kRows = 16 * MT;                    // batch rows per block
  static constexpr int kCols = kNG * NT * 8;               // weight rows per block
  static constexpr int kAcc = MT * NT * 4;                 // accumulators per lane
  static constexpr int kRed = (KG - 1) * kNG * kAcc * 32;  // floats to reduce across K-slices
};

template <typename T, int MT, int NT, int KG>
__global__ void __launch_bounds__(kWarps * 32)
    mma_kernel(const Gemm4bitArgs a, const Code16 table, const int bs_shift) {
  using C = MmaConfig<MT, NT, KG>;
  __shared__ float code[16];
  __shared__ float red[C::kRed > 0 ? C::kRed : 1];
#if BNB_MMA_NATIVE
  MmaScratch* scratch = nullptr;
#else
  __shared__ MmaScratch scratch[kWarps];
#endif
  store_code(code, a.code, table);
  __syncthreads();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int ng = warp % C::kNG, kg = warp / C::kNG;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * C::kRows;
  const int64_t nw = static_cast<int64_t>(blockIdx.x) * C::kCols + ng * NT * 8;  // the warp's first weight row
  const int64_t chunks = a.K / 128, row_bytes = a.K / 2;
  const int64_t iters = (chunks + KG - 1) / KG;  // equal for every warp (the emulation synchronises)
  const T* A = static_cast<const T*>(a.A);

  // The NT weight chunks (and their scales) of chunk c for this lane; zero past the edges.
  const auto load_weights = [&](int64_t c, uint4(&w)[NT], float (&s)[NT]) {
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      const int64_t n = nw + nt * 8 + g;
      if (c < chunks && n < a.N) {
        w[nt] = load_stream16(a.B + n * row_bytes + c * 64 + t * 16);
        s[nt] = block_scale(a, (n * a.K + c * 128 + t * 32) >> bs_shift);
      } else {
        w[nt] = make_uint4(0, 0, 0, 0);
        s[nt] = 0.0f;
      }
    }
  };

  float acc[MT][NT][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int i = 0; i < 4; ++i) acc[mt][nt][i] = 0.0f;

  uint4 next_w[NT];
  float next_s[NT];
  load_weights(kg, next_w, next_s);
  for (int64_t it = 0; it < iters; ++it) {
    const int64_t c = it * KG + kg;
    uint4 w[NT];
    float s[NT];
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) w[nt] = next_w[nt], s[nt] = next_s[nt];
    load_weights(c + KG, next_w, next_s);  // in flight while this chunk runs
    const int64_t k0 = c * 128 + t * 32;
    // Not unrolled over the 4 words of the chunk: unrolled, the compiler hoists every activation load and
    // runs out of registers in the 64 x 128 configuration.
#pragma unroll 1
    for (int j = 0; j < 4; ++j) {
      uint32_t b[NT][4];  // the B fragments of steps 2j and 2j + 1 from packed bytes 4j .. 4j + 3
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
        float cv[8];
        decode8(code, word_of(w[nt], j), cv);
#pragma unroll
        for (int i = 0; i < 4; ++i) b[nt][i] = pack2<T>(cv[2 * i] * s[nt], cv[2 * i + 1] * s[nt]);
      }
#pragma unroll
      for (int h = 0; h < 2; ++h) {  // mma step 2j + h: k = 32t + 8j + 4h + (0..3)
        const int64_t k = k0 + 8 * j + 4 * h;
        uint32_t frag[MT][4];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {  // batch rows g and g + 8 of the m-tile: 4 activations (8 bytes) each
          const int64_t r0 = m0 + mt * 16 + g, r1 = r0 + 8;
          const uint2 lo = c < chunks && r0 < a.M ? load_cached8(A + r0 * a.K + k) : make_uint2(0, 0);
          const uint2 hi = c < chunks && r1 < a.M ? load_cached8(A + r1 * a.K + k) : make_uint2(0, 0);
          frag[mt][0] = lo.x, frag[mt][1] = hi.x, frag[mt][2] = lo.y, frag[mt][3] = hi.y;
        }
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) mma16816<T>(acc[mt][nt], frag[mt], b[nt][2 * h], b[nt][2 * h + 1], scratch);
      }
    }
  }

  // Every loop over acc below is unrolled: one index that is not a compile-time constant would put acc in
  // local memory for the whole kernel (the mma loop included).
  if constexpr (KG > 1) {  // sum the K-slices into the warps of slice 0
    if (kg > 0) {
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int i = 0; i < 4; ++i)
            red[(((kg - 1) * C::kNG + ng) * C::kAcc + (mt * NT + nt) * 4 + i) * 32 + lane] = acc[mt][nt][i];
    }
    __syncthreads();
    if (kg == 0) {
      for (int sl = 1; sl < KG; ++sl) {
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int i = 0; i < 4; ++i)
              acc[mt][nt][i] += red[(((sl - 1) * C::kNG + ng) * C::kAcc + (mt * NT + nt) * 4 + i) * 32 + lane];
      }
    }
  }
  if (kg != 0) return;
  T* out = static_cast<T*>(a.out);
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int64_t m = m0 + mt * 16 + g + (i >= 2 ? 8 : 0), n = nw + nt * 8 + 2 * t + (i & 1);
        if (m < a.M && n < a.N)
          out[m * a.N + n] = from_float<T>(acc[mt][nt][i] + (a.bias != nullptr ? a.bias[n] : 0.0f));
      }
}

template <typename T, int MT, int NT, int KG>
const char* launch_config(const Gemm4bitArgs& a, gpuStream_t s) {
  using C = MmaConfig<MT, NT, KG>;
  const int64_t gx = (a.N + C::kCols - 1) / C::kCols, gy = (a.M + C::kRows - 1) / C::kRows;
  if (gy > 65535 || gx > 0x7FFFFFFF) return "gemm_4bit: matrix too large for one launch";
  launch(mma_kernel<T, MT, NT, KG>, dim3(static_cast<unsigned int>(gx), static_cast<unsigned int>(gy)), kWarps * 32, 0,
         s, a, code16(a.quant_type), log2_blocksize(a.blocksize));
  return nullptr;
}

}  // namespace

const char* launch_gemm_4bit_mma(const Gemm4bitArgs& a, void* stream) {
  const gpuStream_t s = static_cast<gpuStream_t>(stream);
  const char* err = nullptr;
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, float>) {
      err = "gemm_4bit: the tensor-core kernel takes float16 or bfloat16 inputs";
    } else if (a.M <= 16) {
      err = launch_config<T, 1, 2, 8>(a, s);  // 16 weight rows per block, K split 8 ways
    } else if (a.M <= 32) {
      err = launch_config<T, 2, 2, 4>(a, s);
    } else if (a.M <= 64) {
      err = launch_config<T, 4, 2, 2>(a, s);
    } else {
      err = launch_config<T, 4, 4, 2>(a, s);  // 64 x 128 output tiles
    }
  });
  return err != nullptr ? err : launch_status();
}

}  // namespace bnb::gpu
