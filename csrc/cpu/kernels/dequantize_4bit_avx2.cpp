// AVX2 path of 4-bit dequantization: per block the 16 possible outputs are
// computed once; 16-bit outputs are looked up bytewise with vpshufb (one
// table for the low bytes, one for the high bytes), fp32 with two vpermps.
#include <algorithm>

#include "../../common/dispatch.h"
#include "dequantize_4bit.h"
#include "simd_avx2.h"

namespace bnb::cpu {
namespace {

using namespace avx2;

// 16 packed bytes -> 32 nibble indices (bytes) in element order, as two xmm
inline void nibble_index_bytes(const uint8_t* p, __m128i* first, __m128i* second) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i lo = _mm_and_si128(b, _mm_set1_epi8(15));
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(15));
  *first = _mm_unpacklo_epi8(hi, lo);
  *second = _mm_unpackhi_epi8(hi, lo);
}

template <typename T>
void dequantize_blocks_16bit(const Dequantize4bitArgs& a, int64_t block_begin, int64_t block_end) {
  uint16_t* out = static_cast<uint16_t*>(a.out);
  const float* code = code_table(a.quant_type).data();
  const __m256 code_lo = _mm256_loadu_ps(code), code_hi = _mm256_loadu_ps(code + 8);
  const __m128i split = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  for (int64_t b = block_begin; b < block_end; ++b) {
    const __m256 scale = _mm256_set1_ps(a.absmax[b]);
    __m128i v0, v1;  // 16-bit values of codes 0..7 and 8..15
    if constexpr (std::is_same_v<T, bf16_t>) {
      v0 = to_bf16x8(_mm256_mul_ps(code_lo, scale));
      v1 = to_bf16x8(_mm256_mul_ps(code_hi, scale));
    } else {
      v0 = to_fp16x8(_mm256_mul_ps(code_lo, scale));
      v1 = to_fp16x8(_mm256_mul_ps(code_hi, scale));
    }
    // byte tables: low bytes of the 16 values, high bytes of the 16 values
    const __m128i s0 = _mm_shuffle_epi8(v0, split), s1 = _mm_shuffle_epi8(v1, split);
    const __m128i tlo = _mm_unpacklo_epi64(s0, s1), thi = _mm_unpackhi_epi64(s0, s1);
    const int64_t start = b * a.blocksize;
    const int64_t len = std::min(a.blocksize, a.n - start);
    const uint8_t* in = a.packed + start / 2;
    uint16_t* o = out + start;
    auto emit32 = [&](const uint8_t* src, uint16_t* dst, int64_t count) {
      __m128i i0, i1;
      nibble_index_bytes(src, &i0, &i1);
      const __m128i r[4] = {_mm_unpacklo_epi8(_mm_shuffle_epi8(tlo, i0), _mm_shuffle_epi8(thi, i0)),
                            _mm_unpackhi_epi8(_mm_shuffle_epi8(tlo, i0), _mm_shuffle_epi8(thi, i0)),
                            _mm_unpacklo_epi8(_mm_shuffle_epi8(tlo, i1), _mm_shuffle_epi8(thi, i1)),
                            _mm_unpackhi_epi8(_mm_shuffle_epi8(tlo, i1), _mm_shuffle_epi8(thi, i1))};
      if (count == 32) {
        for (int k = 0; k < 4; ++k) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 8 * k), r[k]);
      } else {
        uint16_t tmp[32];
        for (int k = 0; k < 4; ++k) _mm_storeu_si128(reinterpret_cast<__m128i*>(tmp + 8 * k), r[k]);
        std::memcpy(dst, tmp, static_cast<size_t>(count) * 2);
      }
    };
    int64_t i = 0;
    for (; i + 32 <= len; i += 32) emit32(in + i / 2, o + i, 32);
    if (i < len) {
      uint8_t tail[16] = {};
      std::memcpy(tail, in + i / 2, static_cast<size_t>((len - i + 1) / 2));
      emit32(tail, o + i, len - i);
    }
  }
}

void dequantize_blocks_f32(const Dequantize4bitArgs& a, int64_t block_begin, int64_t block_end) {
  float* out = static_cast<float*>(a.out);
  const float* code = code_table(a.quant_type).data();
  const __m256 code_lo = _mm256_loadu_ps(code), code_hi = _mm256_loadu_ps(code + 8);
  for (int64_t b = block_begin; b < block_end; ++b) {
    const __m256 scale = _mm256_set1_ps(a.absmax[b]);
    const __m256 t0 = _mm256_mul_ps(code_lo, scale), t1 = _mm256_mul_ps(code_hi, scale);
    const int64_t start = b * a.blocksize;
    const int64_t len = std::min(a.blocksize, a.n - start);
    const uint8_t* in = a.packed + start / 2;
    float* o = out + start;
    auto emit8 = [&](const uint8_t* src, float* dst, int64_t count) {
      uint32_t four;
      std::memcpy(&four, src, 4);
      const __m256i bytes = _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(static_cast<int>(four)));
      const __m256i idx = _mm256_or_si256(_mm256_srli_epi64(bytes, 4),
                                          _mm256_slli_epi64(_mm256_and_si256(bytes, _mm256_set1_epi64x(15)), 32));
      const __m256 hi_half = _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28));  // sign bit = index bit 3
      const __m256 v = _mm256_blendv_ps(_mm256_permutevar8x32_ps(t0, idx), _mm256_permutevar8x32_ps(t1, idx), hi_half);
      if (count == 8)
        store8(dst, v);
      else
        store8_partial(dst, v, count);
    };
    int64_t i = 0;
    for (; i + 8 <= len; i += 8) emit8(in + i / 2, o + i, 8);
    if (i < len) {
      uint8_t tail[4] = {};
      std::memcpy(tail, in + i / 2, static_cast<size_t>((len - i + 1) / 2));
      emit8(tail, o + i, len - i);
    }
  }
}

}  // namespace

void dequantize_4bit_avx2(const Dequantize4bitArgs& a, int64_t block_begin, int64_t block_end) {
  switch (a.dtype) {
    case DType::kBF16: return dequantize_blocks_16bit<bf16_t>(a, block_begin, block_end);
    case DType::kF16: return dequantize_blocks_16bit<fp16_t>(a, block_begin, block_end);
    case DType::kF32: return dequantize_blocks_f32(a, block_begin, block_end);
  }
}

}  // namespace bnb::cpu
