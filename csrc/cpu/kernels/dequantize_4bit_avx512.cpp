// AVX-512 path of 4-bit dequantization. Per block the 16 possible outputs are
// computed once (code * absmax, rounded to the output type) and every element
// is a register table lookup: vpermw for 16-bit outputs, vpermps for fp32.
#include <algorithm>

#include "../../common/dispatch.h"
#include "dequantize_4bit.h"
#include "simd_avx512.h"

namespace bnb::cpu {
namespace {

using namespace avx512;

// 16 packed bytes -> 32 u16 nibble indices in element order (high nibble first)
inline __m512i nibble_index_u16(const uint8_t* p) {
  const __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm512_or_si512(_mm512_srli_epi32(b, 4), _mm512_slli_epi32(_mm512_and_si512(b, _mm512_set1_epi32(15)), 16));
}
// 8 packed bytes -> 16 u32 nibble indices in element order
inline __m512i nibble_index_u32(const uint8_t* p) {
  const __m512i b = _mm512_cvtepu8_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  return _mm512_or_si512(_mm512_srli_epi64(b, 4), _mm512_slli_epi64(_mm512_and_si512(b, _mm512_set1_epi64(15)), 32));
}

template <typename T>
void dequantize_blocks_16bit(const Dequantize4bitArgs& a, int64_t block_begin, int64_t block_end) {
  uint16_t* out = static_cast<uint16_t*>(a.out);
  const __m512 code = _mm512_loadu_ps(code_table(a.quant_type).data());
  for (int64_t b = block_begin; b < block_end; ++b) {
    const __m512 values = _mm512_mul_ps(code, _mm512_set1_ps(a.absmax[b]));
    const __m512i table = _mm512_castsi256_si512(std::is_same_v<T, bf16_t> ? to_bf16x16(values) : to_fp16x16(values));
    const int64_t start = b * a.blocksize;
    const int64_t len = std::min(a.blocksize, a.n - start);
    const uint8_t* in = a.packed + start / 2;
    uint16_t* o = out + start;
    int64_t i = 0;
    for (; i + 32 <= len; i += 32)
      _mm512_storeu_si512(o + i, _mm512_permutexvar_epi16(nibble_index_u16(in + i / 2), table));
    if (i < len) {
      uint8_t tail[16] = {};
      std::memcpy(tail, in + i / 2, static_cast<size_t>((len - i + 1) / 2));
      const __mmask32 m = static_cast<__mmask32>((uint64_t{1} << (len - i)) - 1);
      _mm512_mask_storeu_epi16(o + i, m, _mm512_permutexvar_epi16(nibble_index_u16(tail), table));
    }
  }
}

void dequantize_blocks_f32(const Dequantize4bitArgs& a, int64_t block_begin, int64_t block_end) {
  float* out = static_cast<float*>(a.out);
  const __m512 code = _mm512_loadu_ps(code_table(a.quant_type).data());
  for (int64_t b = block_begin; b < block_end; ++b) {
    const __m512 table = _mm512_mul_ps(code, _mm512_set1_ps(a.absmax[b]));
    const int64_t start = b * a.blocksize;
    const int64_t len = std::min(a.blocksize, a.n - start);
    const uint8_t* in = a.packed + start / 2;
    float* o = out + start;
    int64_t i = 0;
    for (; i + 16 <= len; i += 16) _mm512_storeu_ps(o + i, _mm512_permutexvar_ps(nibble_index_u32(in + i / 2), table));
    if (i < len) {
      uint8_t tail[8] = {};
      std::memcpy(tail, in + i / 2, static_cast<size_t>((len - i + 1) / 2));
      _mm512_mask_storeu_ps(o + i, first_n(len - i), _mm512_permutexvar_ps(nibble_index_u32(tail), table));
    }
  }
}

}  // namespace

void dequantize_4bit_avx512(const Dequantize4bitArgs& a, int64_t block_begin, int64_t block_end) {
  switch (a.dtype) {
    case DType::kBF16: return dequantize_blocks_16bit<bf16_t>(a, block_begin, block_end);
    case DType::kF16: return dequantize_blocks_16bit<fp16_t>(a, block_begin, block_end);
    case DType::kF32: return dequantize_blocks_f32(a, block_begin, block_end);
  }
}

}  // namespace bnb::cpu
