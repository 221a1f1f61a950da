// AVX2 path of the 4-bit matmul, fp32 arithmetic (A of any dtype). Per 16
// weight columns of a row: one 8-byte load broadcast to the four qwords, two
// per-lane shifts (vpsrlvd) give 2 x 8 nibble indices, each looked up in the
// block's 16-entry fp32 table (code * scale) with two vpermps and a blend on
// index bit 3, and two FMAs accumulate them with A. A is packed once
// (converted to fp32) so that its columns line up with that lane order: lane
// i holds byte p(i) = 4 (i % 2) + i / 2 of the step, so the even register
// holds columns 2 p(i) and the odd one 2 p(i) + 1.
// Needs K % blocksize == 0 (rows start on a block); other shapes take the
// scalar path.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "../../common/dispatch.h"
#include "gemm_4bit.h"

namespace bnb::cpu {
namespace {

constexpr int64_t kStep = 16;  // weight columns per step

inline int64_t padded_k(int64_t K) { return (K + kStep - 1) / kStep * kStep; }
constexpr int lane_byte(int lane) { return 4 * (lane % 2) + lane / 2; }

int64_t workspace_bytes(const Gemm4bitArgs& a) { return a.M * padded_k(a.K) * 4; }

template <typename T>
void pack_rows(const Gemm4bitArgs& a, float* ws, int64_t m_begin, int64_t m_end) {
  const int64_t Kp = padded_k(a.K);
  for (int64_t m = m_begin; m < m_end; ++m) {
    float* dst = ws + m * Kp;
    const T* src = static_cast<const T*>(a.A) + m * a.K;
    for (int64_t k0 = 0; k0 < Kp; k0 += kStep)
      for (int lane = 0; lane < 8; ++lane) {
        const int64_t ce = k0 + 2 * lane_byte(lane), co = ce + 1;
        dst[k0 + lane] = ce < a.K ? to_f32(src[ce]) : 0.0f;
        dst[k0 + 8 + lane] = co < a.K ? to_f32(src[co]) : 0.0f;
      }
  }
}

void pack_a(const Gemm4bitArgs& a, void* ws, int64_t m_begin, int64_t m_end) {
  dispatch_dtype(
      a.dtype, [&](auto tag) { pack_rows<typename decltype(tag)::type>(a, static_cast<float*>(ws), m_begin, m_end); });
}

bool supports(const Gemm4bitArgs& a) { return a.K % a.blocksize == 0; }

struct Ctx {
  const Gemm4bitArgs& a;
  const float* A;  // packed, M x Kp
  int64_t Kp;
  __m256 code_lo, code_hi;
};

struct Table {
  __m256 lo, hi;  // code[0..7] * scale, code[8..15] * scale
};

// table[idx & 15] per lane (bits above 3 ignored)
inline __m256 lookup(const Table& t, __m256i idx) {
  const __m256 lo = _mm256_permutevar8x32_ps(t.lo, idx), hi = _mm256_permutevar8x32_ps(t.hi, idx);
  return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
}

template <int MR>
constexpr int kAccumulators = MR == 1 ? 2 : 1;

template <int NR, int MR>
[[gnu::always_inline]] inline void step(__m256 (&acc)[NR][MR][kAccumulators<MR>], const Table (&tab)[NR],
                                        const uint8_t* const (&row)[NR], const float* ap, int64_t Kp, int64_t k0,
                                        __m256i shift_even, __m256i shift_odd) {
  constexpr int kAcc = kAccumulators<MR>;
#pragma GCC unroll 4
  for (int r = 0; r < NR; ++r) {
    int64_t eight;
    std::memcpy(&eight, row[r] + k0 / 2, 8);
    const __m256i x = _mm256_set1_epi64x(eight);
    const __m256 we = lookup(tab[r], _mm256_srlv_epi32(x, shift_even));
    const __m256 wo = lookup(tab[r], _mm256_srlv_epi32(x, shift_odd));
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m) {
      const float* p = ap + m * Kp + k0;
      acc[r][m][0] = _mm256_fmadd_ps(we, _mm256_loadu_ps(p), acc[r][m][0]);
      acc[r][m][kAcc - 1] = _mm256_fmadd_ps(wo, _mm256_loadu_ps(p + 8), acc[r][m][kAcc - 1]);
    }
  }
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <typename T, int NR, int MR>
[[gnu::noinline]] void tile(const Ctx& c, int64_t n0, int64_t m0) {
  const Gemm4bitArgs& a = c.a;
  constexpr int kAcc = kAccumulators<MR>;
  const __m256i shift_odd = _mm256_set_epi32(24, 24, 16, 16, 8, 8, 0, 0);
  const __m256i shift_even = _mm256_add_epi32(shift_odd, _mm256_set1_epi32(4));
  __m256 acc[NR][MR][kAcc];
#pragma GCC unroll 4
  for (int r = 0; r < NR; ++r)
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 2
      for (int i = 0; i < kAcc; ++i) acc[r][m][i] = _mm256_setzero_ps();
  Table tab[NR];
  const uint8_t* row[NR];
  int64_t first_block[NR];
#pragma GCC unroll 4
  for (int r = 0; r < NR; ++r) {
    row[r] = a.B + (n0 + r) * a.K / 2;
    first_block[r] = (n0 + r) * a.K / a.blocksize;
  }
  const float* ap = c.A + m0 * c.Kp;
  for (int64_t k0 = 0, jb = 0; k0 < a.K; ++jb) {
#pragma GCC unroll 4
    for (int r = 0; r < NR; ++r) {
      const __m256 s = _mm256_set1_ps(gemm_4bit_block_scale(a, first_block[r] + jb));
      tab[r] = Table{_mm256_mul_ps(c.code_lo, s), _mm256_mul_ps(c.code_hi, s)};
    }
    for (const int64_t end = k0 + a.blocksize; k0 < end; k0 += kStep)
      step<NR, MR>(acc, tab, row, ap, c.Kp, k0, shift_even, shift_odd);
  }
  T* out = static_cast<T*>(a.out);
#pragma GCC unroll 4
  for (int r = 0; r < NR; ++r) {
    const float bias = a.bias != nullptr ? a.bias[n0 + r] : 0.0f;
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m) {
      const __m256 s = kAcc == 2 ? _mm256_add_ps(acc[r][m][0], acc[r][m][kAcc - 1]) : acc[r][m][0];
      out[(m0 + m) * a.N + n0 + r] = from_f32<T>(hsum(s) + bias);
    }
  }
}

template <typename T, int MR>
void columns(const Ctx& c, int64_t n_begin, int64_t n_end, int64_t m0) {
  constexpr int NR = MR <= 2 ? 2 : 1;
  int64_t n = n_begin;
  for (; n + NR <= n_end; n += NR) tile<T, NR, MR>(c, n, m0);
  for (; n < n_end; ++n) tile<T, 1, MR>(c, n, m0);
}

template <typename T>
void run_typed(const Ctx& c, int64_t n_begin, int64_t n_end) {
  constexpr int64_t kGroup = 16;  // a group's weights stay in cache across the batch rows
  for (int64_t g = n_begin; g < n_end; g += kGroup) {
    const int64_t ge = std::min(g + kGroup, n_end);
    for (int64_t m0 = 0; m0 < c.a.M; m0 += 4) {
      switch (std::min<int64_t>(4, c.a.M - m0)) {
        case 1: columns<T, 1>(c, g, ge, m0); break;
        case 2: columns<T, 2>(c, g, ge, m0); break;
        case 3: columns<T, 3>(c, g, ge, m0); break;
        default: columns<T, 4>(c, g, ge, m0); break;
      }
    }
  }
}

void run(const Gemm4bitArgs& a, const void* ws, int64_t n_begin, int64_t n_end) {
  const float* code = gemm_4bit_code(a);
  const Ctx c{a, static_cast<const float*>(ws), padded_k(a.K), _mm256_loadu_ps(code), _mm256_loadu_ps(code + 8)};
  dispatch_dtype(a.dtype, [&](auto tag) { run_typed<typename decltype(tag)::type>(c, n_begin, n_end); });
}

constexpr Gemm4bitPath kPath{"avx2", workspace_bytes, pack_a, run, supports};

}  // namespace

const Gemm4bitPath* gemm_4bit_avx2_path() { return &kPath; }

}  // namespace bnb::cpu
