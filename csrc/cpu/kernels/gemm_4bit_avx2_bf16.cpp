// AVX2 fused path of the 4-bit matmul for bf16 A (few batch rows): the code
// table is held as bf16, its low and high bytes in two registers, so 32
// nibbles are looked up with two vpshufb (instead of two vpermps and a blend
// per 8 nibbles in fp32), and bf16 widens to fp32 by interleaving with zeros.
// A group is 64 weight columns (32 packed bytes): nibbles split with a shift
// and masks, looked up, interleaved into words (vpunpck*bw) and into fp32
// (vpunpck*wd), giving 8 vectors of 8 columns in the order of
// group_column(); A is packed once per call in that order. The sums of a
// group are multiplied by the block scales (per 128-bit half when blocks are
// 32 columns) and added to the row's total. Weights are the code rounded to
// bf16 (relative error <= 2^-9, as rounding code * scale to bf16 in
// dequantize_4bit) times the fp32 scale; sums are fp32.
// Needs K % 64 == 0 and K % blocksize == 0 (other shapes take the fp32 path).
#include <immintrin.h>

#include <algorithm>

#include "gemm_4bit.h"

namespace bnb::cpu {
namespace {

constexpr int64_t kGroup = 64;

// The weight column at position p of a group: 4 nibble-vectors of the high nibbles (even columns), then of
// the low ones; vector v, lane l holds byte (l < 4 ? 0 : 16) + 4 v + l % 4 of the group.
constexpr int64_t group_column(int64_t p) {
  const int64_t v = (p % 32) / 8, l = p % 8, byte = (l < 4 ? 0 : 16) + 4 * v + l % 4;
  return 2 * byte + (p < 32 ? 0 : 1);
}

bool supports(const Gemm4bitArgs& a) {
  return a.dtype == DType::kBF16 && a.K > 0 && a.K % kGroup == 0 && a.K % a.blocksize == 0;
}

int64_t workspace_bytes(const Gemm4bitArgs& a) { return a.M * a.K * 4; }

void pack_a(const Gemm4bitArgs& a, void* ws, int64_t m_begin, int64_t m_end) {
  for (int64_t m = m_begin; m < m_end; ++m) {
    float* dst = static_cast<float*>(ws) + m * a.K;
    const bf16_t* src = static_cast<const bf16_t*>(a.A) + m * a.K;
    for (int64_t k0 = 0; k0 < a.K; k0 += kGroup)
      for (int64_t p = 0; p < kGroup; ++p) dst[k0 + p] = to_f32(src[k0 + group_column(p)]);
  }
}

struct Tables {
  __m256i lo, hi;  // low and high bytes of the 16 bf16 code values, in both 128-bit lanes
};

Tables tables(const float* code) {
  alignas(32) uint8_t lo[32], hi[32];
  for (int i = 0; i < 16; ++i) {
    const uint16_t b = from_f32<bf16_t>(code[i]).bits;
    lo[i] = lo[i + 16] = static_cast<uint8_t>(b & 0xFF);
    hi[i] = hi[i + 16] = static_cast<uint8_t>(b >> 8);
  }
  return {_mm256_load_si256(reinterpret_cast<const __m256i*>(lo)),
          _mm256_load_si256(reinterpret_cast<const __m256i*>(hi))};
}

// The 4 fp32 vectors of 32 nibble indices (one per byte, 0..15).
[[gnu::always_inline]] inline void lookup(const Tables& t, __m256i idx, __m256 (&w)[4]) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i lo = _mm256_shuffle_epi8(t.lo, idx), hi = _mm256_shuffle_epi8(t.hi, idx);
  const __m256i w0 = _mm256_unpacklo_epi8(lo, hi), w1 = _mm256_unpackhi_epi8(lo, hi);
  w[0] = _mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, w0));
  w[1] = _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, w0));
  w[2] = _mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, w1));
  w[3] = _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, w1));
}

// The scale of each lane of a group starting at column k0 of a row whose first block is `first`.
// (shift: log2 of the blocksize)
inline __m256 group_scale(const Gemm4bitArgs& a, int64_t first, int64_t k0, int shift) {
  if (a.blocksize >= kGroup) return _mm256_set1_ps(gemm_4bit_block_scale(a, first + (k0 >> shift)));
  const int64_t j = first + k0 / 32;  // 32-column blocks: one per 128-bit half
  return _mm256_set_m128(_mm_set1_ps(gemm_4bit_block_scale(a, j + 1)), _mm_set1_ps(gemm_4bit_block_scale(a, j)));
}

// One weight row n x MR batch rows. (One row per call: two rows' 8 decoded vectors each spill from the 16
// ymm registers, which cost ~10% at batch 1 and ~15% at batch 2.)
template <int MR>
[[gnu::noinline]] void tile(const Gemm4bitArgs& a, const Tables& t, const float* A, int64_t n, int64_t m0) {
  const __m256i mask = _mm256_set1_epi8(0x0F);
  const int shift = __builtin_ctzll(a.blocksize);
  __m256 total[MR];
#pragma GCC unroll 4
  for (int m = 0; m < MR; ++m) total[m] = _mm256_setzero_ps();
  const uint8_t* row = a.B + n * a.K / 2;
  const int64_t first = n * a.K / a.blocksize;
  const float* ap = A + m0 * a.K;
  for (int64_t k0 = 0; k0 < a.K; k0 += kGroup) {
    // a new cache line of the row: fetch that line of the next row (the next tile's)
    if (k0 % 128 == 0) _mm_prefetch(reinterpret_cast<const char*>(row + (a.K + k0) / 2), _MM_HINT_T0);
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + k0 / 2));
    __m256 even[4], odd[4];
    lookup(t, _mm256_and_si256(_mm256_srli_epi16(x, 4), mask), even);
    lookup(t, _mm256_and_si256(x, mask), odd);
    const __m256 scale = group_scale(a, first, k0, shift);
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m) {
      const float* p = ap + m * a.K + k0;
      __m256 se = _mm256_mul_ps(even[0], _mm256_loadu_ps(p)), so = _mm256_mul_ps(odd[0], _mm256_loadu_ps(p + 32));
#pragma GCC unroll 3
      for (int v = 1; v < 4; ++v) {
        se = _mm256_fmadd_ps(even[v], _mm256_loadu_ps(p + 8 * v), se);
        so = _mm256_fmadd_ps(odd[v], _mm256_loadu_ps(p + 32 + 8 * v), so);
      }
      total[m] = _mm256_fmadd_ps(_mm256_add_ps(se, so), scale, total[m]);
    }
  }
  bf16_t* out = static_cast<bf16_t*>(a.out);
  const float bias = a.bias != nullptr ? a.bias[n] : 0.0f;
#pragma GCC unroll 4
  for (int m = 0; m < MR; ++m) {
    const __m256 v = total[m];
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    out[(m0 + m) * a.N + n] = from_f32<bf16_t>(_mm_cvtss_f32(s) + bias);
  }
}

template <int MR>
void columns(const Gemm4bitArgs& a, const Tables& t, const float* A, int64_t n_begin, int64_t n_end, int64_t m0) {
  for (int64_t n = n_begin; n < n_end; ++n) tile<MR>(a, t, A, n, m0);
}

void run(const Gemm4bitArgs& a, const void* ws, int64_t n_begin, int64_t n_end) {
  const Tables t = tables(gemm_4bit_code(a));
  const float* A = static_cast<const float*>(ws);
  constexpr int64_t kColumns = 16;  // a group's weights stay in cache across the batch rows
  for (int64_t g = n_begin; g < n_end; g += kColumns) {
    const int64_t ge = std::min(g + kColumns, n_end);
    for (int64_t m0 = 0; m0 < a.M; m0 += 4) {
      switch (std::min<int64_t>(4, a.M - m0)) {
        case 1: columns<1>(a, t, A, g, ge, m0); break;
        case 2: columns<2>(a, t, A, g, ge, m0); break;
        case 3: columns<3>(a, t, A, g, ge, m0); break;
        default: columns<4>(a, t, A, g, ge, m0); break;
      }
    }
  }
}

constexpr Gemm4bitPath kPath{"avx2 bf16", workspace_bytes, pack_a, run, supports, 8, 1};

}  // namespace

const Gemm4bitPath* gemm_4bit_avx2_bf16_path() { return &kPath; }

}  // namespace bnb::cpu
