// AVX-512 paths of 8-bit blockwise (de)quantization: grid indices 16 at a time,
// the grid table read with plain loads; the code read with gathers (L1).
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

template <typename T>
void quantize_blocks(const QuantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end) {
  const T* x = static_cast<const T*>(a.input);
  for (int64_t b = block_begin; b < block_end; ++b) {
    const int64_t start = b * a.blocksize;
    const int64_t len = std::min(a.blocksize, a.n - start);
    const float amax = block_absmax<false>(x + start, len);
    a.absmax[b] = amax;
    const __m512 inv = _mm512_set1_ps(1.0f / amax);
    alignas(64) uint32_t idx[kGridChunk];
    for (int64_t c = 0; c < len; c += kGridChunk) {
      const int64_t count = std::min<int64_t>(kGridChunk, len - c);
      const T* src = x + start + c;
      int64_t i = 0;
      for (; i + 16 <= count; i += 16) _mm512_store_si512(idx + i, grid_index16(_mm512_mul_ps(load16(src + i), inv)));
      if (i < count) _mm512_store_si512(idx + i, grid_index16(_mm512_mul_ps(load16(src + i, first_n(count - i)), inv)));
      read_grid_lut(a.grid_lut, idx, a.out + start + c, count);
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
  dispatch_dtype(a.dtype,
                 [&](auto tag) { dequantize_blocks<typename decltype(tag)::type>(a, block_begin, block_end); });
}

}  // namespace bnb::cpu
