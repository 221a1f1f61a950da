// AVX2 paths of 8-bit blockwise (de)quantization: grid indices 8 at a time,
// the grid table read with plain loads; gathers for the code.
#include <algorithm>

#include "../../common/dispatch.h"
#include "blockwise_8bit.h"
#include "simd_avx2.h"

namespace bnb::cpu {
namespace {

using namespace avx2;

inline __m256i grid_index8(__m256 s) {
  __m256 v = _mm256_mul_ps(_mm256_add_ps(s, _mm256_set1_ps(1.0f)), _mm256_set1_ps(32767.5f));
  v = _mm256_add_ps(v, _mm256_set1_ps(0.5f));
  v = _mm256_max_ps(v, _mm256_setzero_ps());  // NaN -> 0 (second operand)
  v = _mm256_min_ps(v, _mm256_set1_ps(65535.0f));
  return _mm256_cvttps_epi32(v);
}

template <typename T>
void quantize_blocks(const QuantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end) {
  const T* x = static_cast<const T*>(a.input);
  for (int64_t b = block_begin; b < block_end; ++b) {
    const int64_t start = b * a.blocksize;
    const int64_t len = std::min(a.blocksize, a.n - start);
    const float amax = block_absmax<false>(x + start, len);
    a.absmax[b] = amax;
    const __m256 inv = _mm256_set1_ps(1.0f / amax);
    alignas(32) uint32_t idx[kGridChunk];
    for (int64_t c = 0; c < len; c += kGridChunk) {
      const int64_t count = std::min<int64_t>(kGridChunk, len - c);
      const T* src = x + start + c;
      int64_t i = 0;
      for (; i + 8 <= count; i += 8)
        _mm256_store_si256(reinterpret_cast<__m256i*>(idx + i), grid_index8(_mm256_mul_ps(load8(src + i), inv)));
      if (i < count)
        _mm256_store_si256(reinterpret_cast<__m256i*>(idx + i),
                           grid_index8(_mm256_mul_ps(load8_partial(src + i, count - i), inv)));
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
    const __m256 s = _mm256_set1_ps(a.absmax[b]);
    const uint8_t* in = a.in + start;
    int64_t i = 0;
    auto values8 = [&](const uint8_t* src) {
      uint64_t eight;
      std::memcpy(&eight, src, 8);
      const __m256i idx = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(eight)));
      return _mm256_mul_ps(_mm256_i32gather_ps(a.code, idx, 4), s);
    };
    for (; i + 8 <= len; i += 8) store8(out + start + i, values8(in + i));
    if (i < len) {
      uint8_t tail[8] = {};
      std::memcpy(tail, in + i, static_cast<size_t>(len - i));
      store8_partial(out + start + i, values8(tail), len - i);
    }
  }
}

}  // namespace

void quantize_blockwise_avx2(const QuantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end) {
  dispatch_dtype(a.dtype, [&](auto tag) { quantize_blocks<typename decltype(tag)::type>(a, block_begin, block_end); });
}

void dequantize_blockwise_avx2(const DequantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end) {
  dispatch_dtype(a.dtype,
                 [&](auto tag) { dequantize_blocks<typename decltype(tag)::type>(a, block_begin, block_end); });
}

}  // namespace bnb::cpu
