// Device helpers shared by the matmul kernels (gemv_4bit / gemm_4bit, int8):
// paired fp16/bf16 conversion, 128-bit loads, the
// 4-bit code table and block scales, explicitly rounded fp32 arithmetic for
// the places that must match the CPU bit for bit, and 4-way int8 dot products.
//
// The matmul kernels are compiled with fma contraction allowed (their results
// are compared with a tolerance, docs/backends.md); mul_rn / add_rn mark the
// few products that must round exactly as the CPU does (the nested scale, the
// int8 rescale).
#pragma once

#include "common.cuh"  // first: the GPU runtime headers before common/half.h

#include "../../common/args.h"

namespace bnb::gpu {

// ---- fp32 arithmetic that is never fused ------------------------------------
__device__ __forceinline__ float mul_rn(float a, float b) {
#if defined(BNB_CUDA_DEVICE)
  return __fmul_rn(a, b);
#else
  return a * b;  // HIP and the HIP CPU runtime compile with -ffp-contract=off
#endif
}
__device__ __forceinline__ float add_rn(float a, float b) {
#if defined(BNB_CUDA_DEVICE)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

// Two values as one 32-bit word of 16-bit elements (lo in the low half): one
// cvt.rn.{f16x2,bf16x2}.f32 on sm_80+.
template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
#if defined(BNB_CUDA_DEVICE) && __CUDA_ARCH__ >= 800
  if constexpr (std::is_same_v<T, fp16_t>) {
    const __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
  } else {
    const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
  }
#else
  return static_cast<uint32_t>(from_float<T>(lo).bits) | (static_cast<uint32_t>(from_float<T>(hi).bits) << 16);
#endif
}

// The two 16-bit elements of a word as fp32.
template <typename T>
__device__ __forceinline__ void unpack2(uint32_t w, float& lo, float& hi) {
  if constexpr (std::is_same_v<T, bf16_t>) {
    lo = f32_from_bits(w << 16);
    hi = f32_from_bits(w & 0xFFFF0000u);
  } else {
    lo = to_float(fp16_t{static_cast<uint16_t>(w)});
    hi = to_float(fp16_t{static_cast<uint16_t>(w >> 16)});
  }
}

// Eight consecutive elements of A (16-byte aligned) as fp32.
template <typename T>
__device__ __forceinline__ void load8(const T* p, float* v) {
  if constexpr (std::is_same_v<T, float>) {
    const float4 a = *reinterpret_cast<const float4*>(p), b = *reinterpret_cast<const float4*>(p + 4);
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
  } else {
    const uint4 q = *reinterpret_cast<const uint4*>(p);
    unpack2<T>(q.x, v[0], v[1]);
    unpack2<T>(q.y, v[2], v[3]);
    unpack2<T>(q.z, v[4], v[5]);
    unpack2<T>(q.w, v[6], v[7]);
  }
}

// ---- loads -------------------------------------------------------------------
// 16 bytes read once (packed weights): not kept in L1, so activations stay there.
__device__ __forceinline__ uint4 load_stream16(const void* p) {
#if defined(BNB_CUDA_DEVICE) && __CUDA_ARCH__ >= 700
  uint4 v;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
      : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
      : "l"(p));
  return v;
#else
  return *reinterpret_cast<const uint4*>(p);
#endif
}

// Byte `i` (0..3, a compile-time constant after unrolling) of a word, zero-extended.
__device__ __forceinline__ uint32_t byte_of(uint32_t w, int i) {
#if defined(BNB_CUDA_DEVICE) || defined(BNB_AMD_DEVICE)
  return __byte_perm(w, 0u, 0x4440u | static_cast<uint32_t>(i));
#else
  return (w >> (8 * i)) & 0xFFu;
#endif
}

// ---- 4-bit code table and block scales ---------------------------------------
// The 16 code values, passed to kernels by value (device code cannot read the host tables of format.h).
struct Code16 {
  float v[16];
};

inline Code16 code16(QuantType qt) {
  Code16 t{};
  for (int i = 0; i < 16; ++i) t.v[i] = code_table(qt)[i];
  return t;
}

// The table a kernel decodes with (gemv_4bit's argument, or the quant type's) into shared
// memory: threads 0..15 write it; the caller synchronises.
__device__ __forceinline__ void store_code(float* smem, const float* given, const Code16& table) {
  if (threadIdx.x < 16) smem[threadIdx.x] = given != nullptr ? given[threadIdx.x] : table.v[threadIdx.x];
}

// log2 of a power-of-two blocksize, so kernels index blocks with a shift.
inline int log2_blocksize(int64_t bs) {
  int s = 0;
  while ((int64_t{1} << s) < bs) ++s;
  return s;
}

// The code values of the 8 weights of a packed word (bytes in memory order, element 2b in the high nibble
// of byte b): v[2b] = code[high nibble], v[2b + 1] = code[low nibble], from the 16-entry fp32 table in
// shared memory. The nibbles are masked as byte offsets (4 x nibble) two at a time, so each lookup costs
// one byte extraction.
__device__ __forceinline__ void decode8(const float* code, uint32_t word, float* v) {
  const uint32_t hi4 = (word >> 2) & 0x3C3C3C3Cu, lo4 = (word << 2) & 0x3C3C3C3Cu;
  const char* base = reinterpret_cast<const char*>(code);
#pragma unroll
  for (int b = 0; b < 4; ++b) {
    v[2 * b] = *reinterpret_cast<const float*>(base + byte_of(hi4, b));
    v[2 * b + 1] = *reinterpret_cast<const float*>(base + byte_of(lo4, b));
  }
}

// The scale of 4-bit block j (plain absmax, or the nested one decoded in fp32 as the CPU does).
__device__ __forceinline__ float block_scale(const Gemm4bitArgs& a, int64_t j) {
  if (a.absmax_8bit == nullptr) return a.absmax[j];
  return add_rn(mul_rn(a.absmax_code[a.absmax_8bit[j]], a.absmax[static_cast<uint64_t>(j) / kNestedBlocksize]),
                *a.absmax_offset);
}

// ---- reductions ----------------------------------------------------------------
// Sum over a group of 32 lanes (half a CDNA wavefront): lane 0 of the group gets the total.
template <typename T>
__device__ __forceinline__ T group32_sum(T v) {
  for (int off = 16; off > 0; off >>= 1) {
#if defined(BNB_GPU_HIP)
    v += __shfl_down(v, off, 32);
#else
    v += __shfl_down_sync(0xffffffffu, v, off, 32);
#endif
  }
  return v;
}

// ---- int8 ----------------------------------------------------------------------
// c + the dot product of the four signed bytes of a and b.
__device__ __forceinline__ int dot4(int a, int b, int c) {
#if defined(BNB_CUDA_DEVICE)
  return __dp4a(a, b, c);
#elif defined(BNB_AMD_DEVICE) && (defined(__gfx906__) || defined(__gfx908__) || defined(__gfx90a__) || \
                                  defined(__gfx940__) || defined(__gfx941__) || defined(__gfx942__))
  return __builtin_amdgcn_sdot4(a, b, c, false);
#else
  for (int t = 0; t < 4; ++t)
    c += static_cast<int>(static_cast<int8_t>(a >> (8 * t))) * static_cast<int>(static_cast<int8_t>(b >> (8 * t)));
  return c;
#endif
}

// int8_mm_dequant's rescale of one int32 product, rounded exactly as the CPU does it.
template <typename T>
__device__ __forceinline__ T int8_rescale(int32_t c, float row_stat, float col_stat, const float* bias, int64_t n) {
  float v = mul_rn(mul_rn(static_cast<float>(c), mul_rn(row_stat, col_stat)), kInt8MmScale);
  if (bias != nullptr) v = add_rn(v, bias[n]);
  return from_float<T>(v);
}

}  // namespace bnb::gpu
