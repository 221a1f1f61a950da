// AVX2 paths of 8-bit blockwise (de)quantization: 8 values per step, gathers
// for the grid table and the code.
#include <algorithm>

#include "../../common/dispatch.h"
#include "blockwise_8bit.h"
#include "simd_avx2.h"

namespace bnb::cpu {
namespace {

using namespace avx2;

inline uint64_t lookup8(const uint8_t* lut, __m256 s) {
  __m256 v = _mm256_mul_ps(_mm256_add_ps(s, _mm256_set1_ps(1.0f)), _mm256_set1_ps(32767.5f));
  v = _mm256_add_ps(v, _mm256_set1_ps(0.5f));
  v = _mm256_max_ps(v, _mm256_setzero_ps());  // NaN -> 0 (second operand)
  v = _mm256_min_ps(v, _mm256_set1_ps(65535.0f));
  const __m256i bytes = _mm256_i32gather_epi32(reinterpret_cast<const int*>(lut), _mm256_cvttps_epi32(v), 1);
  const __m256i low = _mm256_shuffle_epi8(
      bytes, _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1,
                              -1, -1, -1, -1, -1, -1, -1, -1));
  const uint64_t lo = static_cast<uint32_t>(_mm256_extract_epi32(low, 0));
  const uint64_t hi = static_cast<uint32_t>(_mm256_extract_epi32(low, 4));
  return lo | (hi << 32);
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
    uint8_t* out = a.out + start;
    int64_t i = 0;
    for (; i + 8 <= len; i += 8) {
      const uint64_t bytes = lookup8(a.grid_lut, _mm256_mul_ps(load8(x + start + i), inv));
      std::memcpy(out + i, &bytes, 8);
    }
    if (i < len) {
      const uint64_t bytes = lookup8(a.grid_lut, _mm256_mul_ps(load8_partial(x + start + i, len - i), inv));
      std::memcpy(out + i, &bytes, static_cast<size_t>(len - i));
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
  dispatch_dtype(a.dtype, [&](auto tag) { dequantize_blocks<typename decltype(tag)::type>(a, block_begin, block_end); });
}

}  // namespace bnb::cpu
