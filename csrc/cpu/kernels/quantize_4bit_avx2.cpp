// AVX2 path of 4-bit quantization: 8 values per step; the 15 midpoints live in
// two 8-lane registers and a 4-step search picks the nearest code.
#include <algorithm>

#include "../../common/dispatch.h"
#include "quantize_4bit.h"
#include "simd_avx2.h"

namespace bnb::cpu {
namespace {

using namespace avx2;

struct Tables {
  __m256 mids_lo, mids_hi;   // sorted midpoints 0..7 and 8..14
  __m256i code_lo, code_hi;  // sorted position -> stored code, 0..7 and 8..15
};

inline Tables tables_for(QuantType qt) {
  float m[16];
  int32_t c[16];
  for (int i = 0; i < 15; ++i) m[i] = midpoint_table(qt)[i];
  m[15] = m[14];
  for (int i = 0; i < 16; ++i) c[i] = sorted_to_code_table(qt)[i];
  return {_mm256_loadu_ps(m), _mm256_loadu_ps(m + 8), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c)),
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 8))};
}

inline __m256i codes8(__m256 s, const Tables& t) {
  // step 8: compare with midpoint 7
  const __m256 upper = _mm256_cmp_ps(s, _mm256_permutevar8x32_ps(t.mids_lo, _mm256_set1_epi32(7)), _CMP_NLE_UQ);
  __m256i pos = _mm256_and_si256(_mm256_castps_si256(upper), _mm256_set1_epi32(8));
  for (int step = 4; step >= 1; step >>= 1) {
    const __m256i idx = _mm256_add_epi32(pos, _mm256_set1_epi32(step - 1));  // low 3 bits select the lane
    const __m256 pivot =
        _mm256_blendv_ps(_mm256_permutevar8x32_ps(t.mids_lo, idx), _mm256_permutevar8x32_ps(t.mids_hi, idx), upper);
    const __m256 above = _mm256_cmp_ps(s, pivot, _CMP_NLE_UQ);
    pos = _mm256_add_epi32(pos, _mm256_and_si256(_mm256_castps_si256(above), _mm256_set1_epi32(step)));
  }
  return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(_mm256_permutevar8x32_epi32(t.code_lo, pos)),
                                              _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(t.code_hi, pos)), upper));
}

// 8 codes -> 4 packed bytes
inline uint32_t pack8(__m256i codes) {
  const __m256i merged = _mm256_or_si256(_mm256_slli_epi64(codes, 4), _mm256_srli_epi64(codes, 32));
  const __m256i bytes =
      _mm256_shuffle_epi8(merged, _mm256_setr_epi8(0, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 8,
                                                   -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
  const uint32_t lo = static_cast<uint32_t>(_mm256_extract_epi16(bytes, 0));
  const uint32_t hi = static_cast<uint32_t>(_mm256_extract_epi16(bytes, 8));
  return lo | (hi << 16);
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
    const __m256 inv = _mm256_set1_ps(1.0f / clamped), amax_v = _mm256_set1_ps(clamped);
    const bool partial = len != a.blocksize;  // scale_4bit: x / absmax in a partial block
    auto scale = [&](__m256 v) { return partial ? _mm256_div_ps(v, amax_v) : _mm256_mul_ps(v, inv); };
    uint8_t* out = a.packed + start / 2;
    int64_t i = 0;
    for (; i + 8 <= len; i += 8) {
      const uint32_t bytes = pack8(codes8(scale(load8(x + start + i)), t));
      std::memcpy(out + i / 2, &bytes, 4);
    }
    if (i < len) {
      const uint32_t bytes = pack8(codes8(scale(load8_partial(x + start + i, len - i)), t));
      std::memcpy(out + i / 2, &bytes, static_cast<size_t>((len - i + 1) / 2));
    }
  }
}

}  // namespace

void quantize_4bit_avx2(const Quantize4bitArgs& a, int64_t block_begin, int64_t block_end) {
  dispatch_dtype(a.dtype, [&](auto tag) { quantize_blocks<typename decltype(tag)::type>(a, block_begin, block_end); });
  if (block_end * a.blocksize >= a.n) pad_odd_tail(a);
}

}  // namespace bnb::cpu
