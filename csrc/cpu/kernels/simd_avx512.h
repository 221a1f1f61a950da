// AVX-512 helpers shared by the *_avx512.cpp kernels (compiled with
// -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c). Conversions are
// bit-exact with common/half.h.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "../../common/half.h"

namespace bnb::cpu::avx512 {

// 16 elements -> fp32
inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 load16(const bf16_t* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
inline __m512 load16(const fp16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
// masked (first `count` elements, rest read as 0)
inline __m512 load16(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
inline __m512 load16(const bf16_t* p, __mmask16 m) {
  const __m256i h = _mm256_maskz_loadu_epi16(m, p);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
inline __m512 load16(const fp16_t* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }

// fp32 -> bf16 bits (round to nearest even, NaN quieted) in the low 16 bits of each lane
inline __m512i bf16_bits(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16);
  const __m512i quiet_nan = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
  const __mmask16 is_nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  return _mm512_mask_blend_epi32(is_nan, rounded, quiet_nan);
}
// fp32 -> 16 packed 16-bit values
inline __m256i to_bf16x16(__m512 v) { return _mm512_cvtepi32_epi16(bf16_bits(v)); }
inline __m256i to_fp16x16(__m512 v) { return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }

inline void store16(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
inline void store16(bf16_t* p, __m512 v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), to_bf16x16(v)); }
inline void store16(fp16_t* p, __m512 v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), to_fp16x16(v)); }
inline void store16(float* p, __m512 v, __mmask16 m) { _mm512_mask_storeu_ps(p, m, v); }
inline void store16(bf16_t* p, __m512 v, __mmask16 m) { _mm256_mask_storeu_epi16(p, m, to_bf16x16(v)); }
inline void store16(fp16_t* p, __m512 v, __mmask16 m) { _mm256_mask_storeu_epi16(p, m, to_fp16x16(v)); }

inline __mmask16 first_n(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
}

// Largest |x| of a block. With kPropagateNaN (4-bit) any NaN makes it NaN, as
// torch's max does; otherwise (8-bit) NaNs are skipped, as fmax does.
template <bool kPropagateNaN, typename T>
inline float block_absmax(const T* x, int64_t len) {
  __m512 m = _mm512_setzero_ps();
  __mmask16 nan = 0;
  const __m512 sign = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
  int64_t i = 0;
  for (; i + 16 <= len; i += 16) {
    const __m512 v = _mm512_and_ps(load16(x + i), sign);
    if (kPropagateNaN) nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    m = _mm512_max_ps(v, m);  // returns m when v is NaN
  }
  if (i < len) {
    const __m512 v = _mm512_and_ps(load16(x + i, first_n(len - i)), sign);
    if (kPropagateNaN) nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    m = _mm512_max_ps(v, m);
  }
  if (kPropagateNaN && nan) return f32_from_bits(0x7FC00000u);
  return _mm512_reduce_max_ps(m);
}

}  // namespace bnb::cpu::avx512
