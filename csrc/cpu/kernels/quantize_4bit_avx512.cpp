// AVX-512 path of 4-bit quantization: 16 values per step, nearest code by a
// 4-step branch-free search over the 15 midpoints held in one register.
#include <algorithm>

#include "../../common/dispatch.h"
#include "quantize_4bit.h"
#include "simd_avx512.h"

namespace bnb::cpu {
namespace {

using namespace avx512;

struct Tables {
  __m512 mids;      // 15 midpoints (lane 15 unused)
  __m512i to_code;  // sorted position -> stored code
};

inline Tables tables_for(QuantType qt) {
  alignas(64) float m[16];
  alignas(64) int32_t c[16];
  for (int i = 0; i < 15; ++i) m[i] = midpoint_table(qt)[i];
  m[15] = m[14];
  for (int i = 0; i < 16; ++i) c[i] = sorted_to_code_table(qt)[i];
  return {_mm512_load_ps(m), _mm512_load_si512(c)};
}

// codes of 16 scaled values, as int32 lanes
inline __m512i codes16(__m512 s, const Tables& t) {
  __m512i pos = _mm512_setzero_si512();
  for (int step = 8; step >= 1; step >>= 1) {
    const __m512 pivot = _mm512_permutexvar_ps(_mm512_add_epi32(pos, _mm512_set1_epi32(step - 1)), t.mids);
    const __mmask16 above = _mm512_cmp_ps_mask(s, pivot, _CMP_NLE_UQ);  // NaN: above
    pos = _mm512_mask_add_epi32(pos, above, pos, _mm512_set1_epi32(step));
  }
  return _mm512_permutexvar_epi32(pos, t.to_code);
}

// 16 codes -> 8 packed bytes (element 2i high nibble)
inline uint64_t pack16(__m512i codes) {
  const __m512i merged = _mm512_or_si512(_mm512_slli_epi64(codes, 4), _mm512_srli_epi64(codes, 32));
  return static_cast<uint64_t>(_mm_cvtsi128_si64(_mm512_cvtepi64_epi8(merged)));
}

template <typename T>
void quantize_blocks(const Quantize4bitArgs& a, int64_t block_begin, int64_t block_end) {
  const T* x = static_cast<const T*>(a.input);
  const Tables t = tables_for(a.quant_type);
  for (int64_t b = block_begin; b < block_end; ++b) {
    const int64_t start = b * a.blocksize;
    const int64_t len = std::min(a.blocksize, a.n - start);
    const float amax = block_absmax<true>(x + start, len);
    a.absmax[b] = stored_4bit_absmax(amax, len, a.blocksize);
    const float clamped = clamp_4bit_absmax(amax);
    const __m512 inv = _mm512_set1_ps(1.0f / clamped), amax_v = _mm512_set1_ps(clamped);
    const bool partial = len != a.blocksize;  // scale_4bit: x / absmax in a partial block
    auto scale = [&](__m512 v) { return partial ? _mm512_div_ps(v, amax_v) : _mm512_mul_ps(v, inv); };
    uint8_t* out = a.packed + start / 2;
    int64_t i = 0;
    for (; i + 16 <= len; i += 16) {
      const uint64_t bytes = pack16(codes16(scale(load16(x + start + i)), t));
      std::memcpy(out + i / 2, &bytes, 8);
    }
    if (i < len) {  // 1..15 values left (an odd tail is patched by pad_odd_tail)
      const uint64_t bytes = pack16(codes16(scale(load16(x + start + i, first_n(len - i))), t));
      std::memcpy(out + i / 2, &bytes, static_cast<size_t>((len - i + 1) / 2));
    }
  }
}

}  // namespace

void quantize_4bit_avx512(const Quantize4bitArgs& a, int64_t block_begin, int64_t block_end) {
  dispatch_dtype(a.dtype, [&](auto tag) { quantize_blocks<typename decltype(tag)::type>(a, block_begin, block_end); });
  if (block_end * a.blocksize >= a.n) pad_odd_tail(a);
}

}  // namespace bnb::cpu
