// AVX-512 path of the int8 row quantization (int8_vectorwise_quant's row pass):
// 16 lanes at a time, outliers masked by compare, round-half-even by the
// default MXCSR rounding of vcvtps2dq, NaN -> 0, saturating narrow to int8.
// Bit-identical to the scalar path.
#include <immintrin.h>

#include "../../common/dispatch.h"
#include "int8_quant.h"
#include "simd_avx512.h"

namespace bnb::cpu {
namespace {

using namespace avx512;

template <typename T>
void quant_rows(const Int8QuantArgs& a, int64_t r0, int64_t r1) {
  const T* x = static_cast<const T*>(a.input);
  const bool zero_cols = a.outlier_cols != nullptr && a.rows > 1;
  const bool use_thr = a.threshold > 0.0f;
  const __m512 thr = _mm512_set1_ps(a.threshold);
  const __m512 sign = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
  for (int64_t r = r0; r < r1; ++r) {
    const T* row = x + r * a.cols;
    int8_t* q = a.row_q + r * a.cols;
    __m512 m = _mm512_setzero_ps();
    __mmask16 nan = 0;
    for (int64_t c = 0; c < a.cols; c += 16) {
      const __mmask16 lanes = first_n(a.cols - c);
      const __m512 v = _mm512_and_ps(load16(row + c, lanes), sign);
      __mmask16 keep = lanes;
      if (use_thr) keep &= _mm512_cmp_ps_mask(v, thr, _CMP_NGE_UQ);  // not (|x| >= thr); NaN kept
      nan |= _mm512_mask_cmp_ps_mask(keep, v, v, _CMP_UNORD_Q);
      m = _mm512_mask_max_ps(m, keep, v, m);
    }
    const float amax = nan ? f32_from_bits(0x7FC00000u) : _mm512_reduce_max_ps(m);
    a.row_stats[r] = amax;
    const __m512 scale = _mm512_set1_ps(127.0f * (1.0f / amax));
    for (int64_t c = 0; c < a.cols; c += 16) {
      const __mmask16 lanes = first_n(a.cols - c);
      const __m512 xv = load16(row + c, lanes);
      const __m512 s = _mm512_mul_ps(xv, scale);
      __mmask16 keep = _mm512_cmp_ps_mask(s, s, _CMP_ORD_Q);  // NaN -> 0
      if (use_thr) keep &= _mm512_cmp_ps_mask(_mm512_and_ps(xv, sign), thr, _CMP_NGE_UQ);
      if (zero_cols) {
        const __m128i f = _mm_maskz_loadu_epi8(lanes, a.outlier_cols + c);
        keep &= _mm_cmpeq_epi8_mask(f, _mm_setzero_si128());
      }
      const __m512i qi = _mm512_maskz_cvtps_epi32(keep, s);
      _mm_mask_storeu_epi8(q + c, lanes, _mm512_cvtsepi32_epi8(qi));
    }
  }
}

}  // namespace

void int8_quant_rows_avx512(const Int8QuantArgs& a, int64_t row_begin, int64_t row_end) {
  dispatch_dtype(a.dtype, [&](auto tag) { quant_rows<typename decltype(tag)::type>(a, row_begin, row_end); });
}

}  // namespace bnb::cpu
