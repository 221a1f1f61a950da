// AVX2 helpers shared by the *_avx2.cpp kernels (compiled with -mavx2 -mfma
// -mf16c). Conversions are bit-exact with common/half.h.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "../../common/half.h"

namespace bnb::cpu::avx2 {

inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const bf16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
inline __m256 load8(const fp16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

// first `count` (< 8) elements, the rest 0
template <typename T>
inline __m256 load8_partial(const T* p, int64_t count) {
  T tmp[8] = {};
  std::memcpy(tmp, p, static_cast<size_t>(count) * sizeof(T));
  return load8(tmp);
}

inline __m256i bf16_bits(__m256 v) {
  const __m256i u = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7FFF))), 16);
  const __m256i quiet_nan = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
  const __m256i is_nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  return _mm256_blendv_epi8(rounded, quiet_nan, is_nan);
}
// 8 fp32 -> 8 x 16-bit in an xmm
inline __m128i to_bf16x8(__m256 v) {
  const __m256i b = bf16_bits(v);
  return _mm_packus_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
}
inline __m128i to_fp16x8(__m256 v) { return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }

inline void store8(float* p, __m256 v) { _mm256_storeu_ps(p, v); }
inline void store8(bf16_t* p, __m256 v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), to_bf16x8(v)); }
inline void store8(fp16_t* p, __m256 v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), to_fp16x8(v)); }
template <typename T>
inline void store8_partial(T* p, __m256 v, int64_t count) {
  T tmp[8];
  store8(tmp, v);
  std::memcpy(p, tmp, static_cast<size_t>(count) * sizeof(T));
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// See avx512::block_absmax.
template <bool kPropagateNaN, typename T>
inline float block_absmax(const T* x, int64_t len) {
  __m256 m = _mm256_setzero_ps();
  __m256 nan = _mm256_setzero_ps();
  const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  int64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const __m256 v = _mm256_and_ps(load8(x + i), sign);
    if (kPropagateNaN) nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    m = _mm256_max_ps(v, m);
  }
  if (i < len) {
    const __m256 v = _mm256_and_ps(load8_partial(x + i, len - i), sign);
    if (kPropagateNaN) nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    m = _mm256_max_ps(v, m);
  }
  if (kPropagateNaN && _mm256_movemask_ps(nan)) return f32_from_bits(0x7FC00000u);
  return hmax(m);
}

}  // namespace bnb::cpu::avx2
