// The int8 GEMM of LLM.int8(), torch-free: C = A @ B^T for row-major int8
// A [M, K] and B [N, K], int32 accumulation, with an int32 or a fused
// rescale(+bias) epilogue (Int8GemmArgs). Paths: scalar reference, AVX2
// (16-bit madd), AVX-VNNI (ymm vpdpbusd), AVX512-VNNI (zmm vpdpbusd), AMX-INT8
// (tdpbssd); all give identical
// results. BNB_CPU_INT8_AMX=0 keeps the int8 GEMM off AMX.
#pragma once

#include <cstdint>

#include "../../common/args.h"

namespace bnb::cpu {

using Int8GemmFn = void (*)(const Int8GemmArgs&, int64_t, int64_t, int64_t, int64_t);

// Computes the output block rows [m_begin, m_end) x columns [n_begin, n_end).
void int8_gemm_scalar(const Int8GemmArgs& a, int64_t m_begin, int64_t m_end, int64_t n_begin, int64_t n_end);
void int8_gemm_avx2(const Int8GemmArgs& a, int64_t m_begin, int64_t m_end, int64_t n_begin, int64_t n_end);
void int8_gemm_avx_vnni(const Int8GemmArgs& a, int64_t m_begin, int64_t m_end, int64_t n_begin, int64_t n_end);
void int8_gemm_avx512_vnni(const Int8GemmArgs& a, int64_t m_begin, int64_t m_end, int64_t n_begin, int64_t n_end);
// AMX-INT8 tiles; only callable when int8_amx_available() (CPUID plus the kernel's permission for tile state).
void int8_gemm_amx(const Int8GemmArgs& a, int64_t m_begin, int64_t m_end, int64_t n_begin, int64_t n_end);
bool int8_amx_available();
void int8_gemm(const Int8GemmArgs& a, int64_t m_begin, int64_t m_end, int64_t n_begin, int64_t n_end);

// Name of the path int8_gemm takes now ("scalar", "avx2", "avx_vnni", "avx512_vnni", "amx").
const char* int8_gemm_path();

// Column granularity the SIMD paths like a block's n range to be a multiple of.
inline constexpr int64_t kInt8GemmNAlign = 32;

// Epilogue of one output element (shared by every path's tail handling).
template <typename T>
inline void int8_store_scaled(const Int8GemmArgs& a, int64_t m, int64_t n, int32_t acc);

}  // namespace bnb::cpu

#include "../../common/half.h"

namespace bnb::cpu {
template <typename T>
inline void int8_store_scaled(const Int8GemmArgs& a, int64_t m, int64_t n, int32_t acc) {
  float v = static_cast<float>(acc) * (a.row_stats[m] * a.col_stats[n]) * kInt8MmScale;
  if (a.bias) v = v + a.bias[n];
  static_cast<T*>(a.out)[m * a.N + n] = from_f32<T>(v);
}
}  // namespace bnb::cpu
