// AVX2 fused path of the 4-bit matmul for 16-bit A (bf16 or fp16, few batch
// rows), in 16-bit integer arithmetic: vpmaddwd multiplies 16 pairs per
// instruction, and the weights are looked up as int16 directly, so they are
// never widened to fp32 (the fp32 kernels spend most of their instructions
// there on AVX2).
//
// Weights: the 16 code values as int16, round(code * 16383 / max|code|), their
// low and high bytes in two registers; 32 nibbles are looked up with two
// vpshufb and interleaved into words (vpunpck*bw).
// A: packed once per call, per row and group of 64 columns, in the order the
// lookups produce the weights (group_column), to int16 with a power-of-two scale,
// |q| <= 2^14, so each int32 lane of a group's sum (8 products of |q| <= 16384
// and |w| <= 16383) stays below 2^31; the group's fp32 scale
// (2^-k * max|code| / 16383) multiplies the block scale. A row holding Inf or
// NaN is flagged and computed by the scalar path instead.
// Error bound: docs/formats.md, "4-bit matmul accuracy on the CPU".
// Needs K % 64 == 0 and K % blocksize == 0 (other shapes take the fp32 path).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "gemm_4bit.h"
#include "simd_avx2.h"

namespace bnb::cpu {
namespace {

constexpr int64_t kGroup = 64;
constexpr int kCodeMax = 16383;  // |weight| as int16
constexpr int kAMaxLog2 = 14;    // |a| as int16 <= 2^14

// The weight column at position p of a group: word w of vector v (16 words each, vpunpck*bw of the bytes of
// 128-bit lane w / 8) is packed byte 16 (w / 8) + 8 (v % 2) + w % 8; vectors 0-1 hold the high nibbles
// (even columns), 2-3 the low ones.
constexpr int64_t group_column(int64_t p) {
  const int64_t v = p / 16, w = p % 16, byte = 16 * (w / 8) + 8 * (v % 2) + w % 8;
  return 2 * byte + v / 2;
}

// max |code|, or NaN if a code value is not finite
float code_max(const float* code) {
  float m = 0.0f;
  for (int i = 0; i < 16; ++i) m = std::isfinite(code[i]) ? std::max(m, std::fabs(code[i])) : NAN;
  return m;
}

bool supports(const Gemm4bitArgs& a) {
  const float cmax = code_max(gemm_4bit_code(a));
  return (a.dtype == DType::kBF16 || a.dtype == DType::kF16) && a.K > 0 && a.K % kGroup == 0 &&
         a.K % a.blocksize == 0 && cmax > 0.0f && std::isfinite(cmax);
}

// Workspace: int16 A [M][K], group scales [M][K / 64], a non-finite flag per row.
struct Workspace {
  int16_t* q;
  float* scale;
  int32_t* nonfinite;
};
Workspace layout(const Gemm4bitArgs& a, const void* ws) {
  int16_t* q = static_cast<int16_t*>(const_cast<void*>(ws));
  float* scale = reinterpret_cast<float*>(q + a.M * a.K);
  return {q, scale, reinterpret_cast<int32_t*>(scale + a.M * (a.K / kGroup))};
}

int64_t workspace_bytes(const Gemm4bitArgs& a) { return a.M * (a.K * 2 + a.K / kGroup * 4 + 4); }

// One group of a row: 64 values to int16 (same order); returns the group's scale, or NaN if one is not finite.
float quantize_group(const float (&v)[kGroup], float code_factor, int16_t* q) {
  const float m = avx2::block_absmax<true>(v, kGroup);  // NaN if one is
  const bool finite = std::isfinite(m);
  if (!finite || m == 0.0f) {
    std::fill(q, q + kGroup, int16_t{0});
    return finite ? 0.0f : NAN;
  }
  int e;
  std::frexp(m, &e);  // m < 2^e, so |a| 2^(14 - e) < 2^14; two exact power-of-two steps reach subnormal m
  const int k = kAMaxLog2 - e;
  const __m256 s1 = _mm256_set1_ps(std::ldexp(1.0f, k / 2)), s2 = _mm256_set1_ps(std::ldexp(1.0f, k - k / 2));
  for (int i = 0; i < kGroup; i += 16) {
    const __m256i lo = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i), s1), s2));
    const __m256i hi = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i + 8), s1), s2));
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), packed);
  }
  return static_cast<float>(std::ldexp(static_cast<double>(code_factor), -k));
}

template <typename T>
void pack_rows(const Gemm4bitArgs& a, const Workspace& w, int64_t m_begin, int64_t m_end) {
  const float code_factor = code_max(gemm_4bit_code(a)) / kCodeMax;
  const int64_t groups = a.K / kGroup;
  for (int64_t m = m_begin; m < m_end; ++m) {
    const T* src = static_cast<const T*>(a.A) + m * a.K;
    w.nonfinite[m] = 0;
    for (int64_t g = 0; g < groups; ++g) {
      float v[kGroup];
      for (int64_t p = 0; p < kGroup; ++p) v[p] = to_f32(src[g * kGroup + group_column(p)]);
      const float s = quantize_group(v, code_factor, w.q + m * a.K + g * kGroup);
      w.scale[m * groups + g] = s;
      if (std::isnan(s)) w.nonfinite[m] = 1;
    }
  }
}

void pack_a(const Gemm4bitArgs& a, void* ws, int64_t m_begin, int64_t m_end) {
  const Workspace w = layout(a, ws);
  if (a.dtype == DType::kBF16)
    pack_rows<bf16_t>(a, w, m_begin, m_end);
  else
    pack_rows<fp16_t>(a, w, m_begin, m_end);
}

// Groups whose scales a tile gathers at a time (2048 columns).
constexpr int64_t kChunk = 32;

// The scales of groups [c0, c0 + nc) of weight row n times those of batch rows m0.. (MR of them):
// sc[m][i] for i < nc * kPer (kPer = 2: blocks of 32 columns, one per half of a group).
template <int MR, int kPer>
void gather_scales(const Gemm4bitArgs& a, const Workspace& w, int64_t n, int64_t m0, int64_t c0, int64_t nc,
                   float (&sc)[MR][kChunk * kPer]) {
  const int shift = __builtin_ctzll(a.blocksize);
  const int64_t groups = a.K / kGroup, first = n * a.K / a.blocksize;
  const float* ascale = w.scale + m0 * groups + c0;
  for (int64_t i = 0; i < nc * kPer; ++i) {
    const float s = gemm_4bit_block_scale(a, first + (((c0 * kPer + i) * (kGroup / kPer)) >> shift));
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m) sc[m][i] = s * ascale[m * groups + i / kPer];
  }
}

// Rows with Inf or NaN: the scalar path, whose sums carry them as the definition does.
template <typename T>
void rerun_nonfinite_rows(const Gemm4bitArgs& a, const Workspace& w, int64_t n_begin, int64_t n_end) {
  for (int64_t m = 0; m < a.M; ++m) {
    if (!w.nonfinite[m]) continue;
    Gemm4bitArgs row = a;
    row.A = static_cast<const T*>(a.A) + m * a.K;
    row.out = static_cast<T*>(a.out) + m * a.N;
    row.M = 1;
    gemm_4bit_scalar_path().run(row, nullptr, n_begin, n_end);
  }
}

inline __m256i load(const int16_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

struct Tables {
  __m256i lo, hi;  // low and high bytes of the 16 int16 code values, in both 128-bit lanes
};

Tables tables(const float* code) {
  const float factor = kCodeMax / code_max(code);
  alignas(32) uint8_t lo[32], hi[32];
  for (int i = 0; i < 16; ++i) {
    const auto w = static_cast<uint16_t>(static_cast<int16_t>(std::lrint(code[i] * factor)));
    lo[i] = lo[i + 16] = static_cast<uint8_t>(w & 0xFF);
    hi[i] = hi[i + 16] = static_cast<uint8_t>(w >> 8);
  }
  return {_mm256_load_si256(reinterpret_cast<const __m256i*>(lo)),
          _mm256_load_si256(reinterpret_cast<const __m256i*>(hi))};
}

// The 2 int16 vectors of 32 nibble indices (one per byte, 0..15).
[[gnu::always_inline]] inline void lookup(const Tables& t, __m256i idx, __m256i& w0, __m256i& w1) {
  const __m256i lo = _mm256_shuffle_epi8(t.lo, idx), hi = _mm256_shuffle_epi8(t.hi, idx);
  w0 = _mm256_unpacklo_epi8(lo, hi);
  w1 = _mm256_unpackhi_epi8(lo, hi);
}

// One weight row n x MR batch rows. The scales are gathered per chunk of groups first (kHalves: blocks of
// 32 columns; lanes 0-3 of a group's sums hold columns 0-31, lanes 4-7 columns 32-63), so the inner loop
// is vector code alone.
template <typename T, int MR, bool kHalves>
[[gnu::noinline]] void tile(const Gemm4bitArgs& a, const Tables& t, const Workspace& w, int64_t n, int64_t m0) {
  constexpr int kPer = kHalves ? 2 : 1;
  const __m256i mask = _mm256_set1_epi8(0x0F);
  const int64_t groups = a.K / kGroup;
  __m256 total[MR];
#pragma GCC unroll 4
  for (int m = 0; m < MR; ++m) total[m] = _mm256_setzero_ps();
  const uint8_t* row = a.B + n * a.K / 2;
  const int16_t* q = w.q + m0 * a.K;
  alignas(32) float sc[MR][kChunk * kPer];
  for (int64_t c0 = 0; c0 < groups; c0 += kChunk) {
    const int64_t nc = std::min(kChunk, groups - c0);
    gather_scales<MR, kPer>(a, w, n, m0, c0, nc, sc);
    for (int64_t g = 0; g < nc; ++g) {
      const int64_t k0 = (c0 + g) * kGroup;
      _mm_prefetch(reinterpret_cast<const char*>(row + (a.K + k0) / 2), _MM_HINT_T0);  // the next tile's row
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + k0 / 2));
      __m256i e0, e1, o0, o1;
      lookup(t, _mm256_and_si256(_mm256_srli_epi16(x, 4), mask), e0, e1);
      lookup(t, _mm256_and_si256(x, mask), o0, o1);
#pragma GCC unroll 4
      for (int m = 0; m < MR; ++m) {
        const int16_t* p = q + m * a.K + k0;
        const __m256i s = _mm256_add_epi32(
            _mm256_add_epi32(_mm256_madd_epi16(e0, load(p)), _mm256_madd_epi16(e1, load(p + 16))),
            _mm256_add_epi32(_mm256_madd_epi16(o0, load(p + 32)), _mm256_madd_epi16(o1, load(p + 48))));
        const float* f = &sc[m][g * kPer];
        const __m256 scale =
            kHalves ? _mm256_set_m128(_mm_broadcast_ss(f + 1), _mm_broadcast_ss(f)) : _mm256_broadcast_ss(f);
        total[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), scale, total[m]);
      }
    }
  }
  T* out = static_cast<T*>(a.out);
  const float bias = a.bias != nullptr ? a.bias[n] : 0.0f;
#pragma GCC unroll 4
  for (int m = 0; m < MR; ++m) out[(m0 + m) * a.N + n] = from_f32<T>(avx2::hsum(total[m]) + bias);
}

// run(): columns of 16 weight rows (a group's weights stay in cache across the batch rows) x batch rows in 4s,
// each (weight row, up to 4 batch rows) by tile<T, MR, kHalves>(a, tables, w, n, m0).
template <typename T>
void run_rows(const Gemm4bitArgs& a, const Workspace& w, int64_t n_begin, int64_t n_end) {
  const Tables t = tables(gemm_4bit_code(a));
  constexpr int64_t kColumns = 16;
  const bool halves = a.blocksize < kGroup;
  for (int64_t g = n_begin; g < n_end; g += kColumns) {
    const int64_t ge = std::min(g + kColumns, n_end);
    for (int64_t m0 = 0; m0 < a.M; m0 += 4) {
      auto columns = [&](auto mr) {
        constexpr int MR = decltype(mr)::value;
        for (int64_t n = g; n < ge; ++n) {
          if (halves)
            tile<T, MR, true>(a, t, w, n, m0);
          else
            tile<T, MR, false>(a, t, w, n, m0);
        }
      };
      switch (std::min<int64_t>(4, a.M - m0)) {
        case 1: columns(std::integral_constant<int, 1>{}); break;
        case 2: columns(std::integral_constant<int, 2>{}); break;
        case 3: columns(std::integral_constant<int, 3>{}); break;
        default: columns(std::integral_constant<int, 4>{}); break;
      }
    }
  }
  rerun_nonfinite_rows<T>(a, w, n_begin, n_end);
}

void run(const Gemm4bitArgs& a, const void* ws, int64_t n_begin, int64_t n_end) {
  const Workspace w = layout(a, ws);
  if (a.dtype == DType::kBF16)
    run_rows<bf16_t>(a, w, n_begin, n_end);
  else
    run_rows<fp16_t>(a, w, n_begin, n_end);
}

constexpr Gemm4bitPath kPath{"avx2 int16", workspace_bytes, pack_a, run, supports, 8, 1};

}  // namespace

const Gemm4bitPath* gemm_4bit_avx2_int16_path() { return &kPath; }

}  // namespace bnb::cpu
