// AVX-512 paths of 8-bit blockwise (de)quantization: 16 values per step; the
// grid table and the code are read with gathers (both stay in L1/L2).
#include <algorithm>

#include "../../common/dispatch.h"
#include "blockwise_8bit.h"
#include "simd_avx512.h"

namespace bnb::cpu {
namespace {

using namespace avx512;

// grid_index() of common/format.h for 16 lanes
inline __m512i grid_index16(__m512 s) {
  __m512 v = _mm512_mul_ps(_mm512_add_ps(s, _mm512_set1_ps(1.0f)), _mm512_set1_ps(32767.5f));
  v = _mm512_add_ps(v, _mm512_set1_ps(0.5f));
  v = _mm512_max_ps(v, _mm512_setzero_ps());  // NaN -> 0 (second operand)
  v = _mm512_min_ps(v, _mm512_set1_ps(65535.0f));
  return _mm512_cvttps_epi32(v);
}

inline __m128i lookup16(const uint8_t* lut, __m512 s) {
  const __m512i bytes = _mm512_i32gather_epi32(grid_index16(s), lut, 1);
  return _mm512_cvtepi32_epi8(bytes);  // keeps the low byte
}

template <typename T>
void quantize_blocks(const QuantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end) {
  const T* x = static_cast<const T*>(a.input);
  for (int64_t b = block_begin; b < block_end; ++b) {
    const int64_t start = b * a.blocksize;
    const int64_t len = std::min(a.blocksize, a.n - start);
    const float amax = block_absmax<false>(x + start, len);
    a.absmax[b] = amax;
    const __m512 inv = _mm512_set1_ps(1.0f / amax);
    uint8_t* out = a.out + start;
    int64_t i = 0;
    for (; i + 16 <= len; i += 16)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), lookup16(a.grid_lut, _mm512_mul_ps(load16(x + start + i), inv)));
    if (i < len) {
      const __mmask16 m = first_n(len - i);
      _mm_mask_storeu_epi8(out + i, m, lookup16(a.grid_lut, _mm512_mul_ps(load16(x + start + i, m), inv)));
    }
  }
}

template <typename T>
void dequantize_blocks(const DequantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end) {
  T* out = static_cast<T*>(a.out);
  for (int64_t b = block_begin; b < block_end; ++b) {
    const int64_t start = b * a.blocksize;
    const int64_t len = std::min(a.blocksize, a.n - start);
    const __m512 s = _mm512_set1_ps(a.absmax[b]);
    const uint8_t* in = a.in + start;
    int64_t i = 0;
    for (; i + 16 <= len; i += 16) {
      const __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i)));
      store16(out + start + i, _mm512_mul_ps(_mm512_i32gather_ps(idx, a.code, 4), s));
    }
    if (i < len) {
      const __mmask16 m = first_n(len - i);
      const __m512i idx = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, in + i));
      store16(out + start + i, _mm512_mul_ps(_mm512_i32gather_ps(idx, a.code, 4), s), m);
    }
  }
}

}  // namespace

void quantize_blockwise_avx512(const QuantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end) {
  dispatch_dtype(a.dtype, [&](auto tag) { quantize_blocks<typename decltype(tag)::type>(a, block_begin, block_end); });
}

void dequantize_blockwise_avx512(const DequantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end) {
  dispatch_dtype(a.dtype, [&](auto tag) { dequantize_blocks<typename decltype(tag)::type>(a, block_begin, block_end); });
}

}  // namespace bnb::cpu
