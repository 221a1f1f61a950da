// AVX-512 path of the 4-bit matmul, fp32 arithmetic (A of any dtype, and bf16
// A where the CPU lacks AVX512-BF16). Per 32 weight columns of a row: one
// 16-byte load broadcast to the four 128-bit lanes, two per-lane shifts
// (vpsrlvd) turn it into 2 x 16 nibble indices, two vpermps look them up in
// the block's table (code * scale in fp32) and two FMAs accumulate them with
// A. A is packed once (converted to fp32) so that its columns line up with
// that lane order: lane i holds byte p(i) = 4 (i % 4) + i / 4 of the step, so
// the even register holds columns 2 p(i) and the odd one 2 p(i) + 1.
// Needs K % blocksize == 0 (rows start on a block); other shapes take the
// scalar path.
#include <immintrin.h>

#include <algorithm>

#include "../../common/dispatch.h"
#include "gemm_4bit.h"
#include "simd_avx512.h"

namespace bnb::cpu {
namespace {

constexpr int64_t kChunk = 32;  // weight columns per step

inline int64_t padded_k(int64_t K) { return (K + kChunk - 1) / kChunk * kChunk; }
constexpr int lane_byte(int lane) { return 4 * (lane % 4) + lane / 4; }

int64_t workspace_bytes(const Gemm4bitArgs& a) { return a.M * padded_k(a.K) * 4; }

template <typename T>
void pack_rows(const Gemm4bitArgs& a, float* ws, int64_t m_begin, int64_t m_end) {
  const int64_t Kp = padded_k(a.K);
  for (int64_t m = m_begin; m < m_end; ++m) {
    float* dst = ws + m * Kp;
    const T* src = static_cast<const T*>(a.A) + m * a.K;
    for (int64_t k0 = 0; k0 < Kp; k0 += kChunk)
      for (int lane = 0; lane < 16; ++lane) {
        const int64_t ce = k0 + 2 * lane_byte(lane), co = ce + 1;
        dst[k0 + lane] = ce < a.K ? to_f32(src[ce]) : 0.0f;
        dst[k0 + 16 + lane] = co < a.K ? to_f32(src[co]) : 0.0f;
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
  __m512 code;
};

template <int MR>
constexpr int kAccumulators = MR == 1 ? 2 : 1;

template <int NR, int MR>
[[gnu::always_inline]] inline void step(__m512 (&acc)[NR][MR][kAccumulators<MR>], const __m512 (&tab)[NR],
                                        const uint8_t* const (&row)[NR], const float* ap, int64_t Kp, int64_t k0,
                                        __m512i shift_even, __m512i shift_odd) {
  constexpr int kAcc = kAccumulators<MR>;
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
    const __m512i x = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row[r] + k0 / 2)));
    const __m512 we = _mm512_permutexvar_ps(_mm512_srlv_epi32(x, shift_even), tab[r]);
    const __m512 wo = _mm512_permutexvar_ps(_mm512_srlv_epi32(x, shift_odd), tab[r]);
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m) {
      const float* p = ap + m * Kp + k0;
      acc[r][m][0] = _mm512_fmadd_ps(we, _mm512_loadu_ps(p), acc[r][m][0]);
      acc[r][m][kAcc - 1] = _mm512_fmadd_ps(wo, _mm512_loadu_ps(p + 16), acc[r][m][kAcc - 1]);
    }
  }
}

template <typename T, int NR, int MR>
[[gnu::noinline]] void tile(const Ctx& c, int64_t n0, int64_t m0) {
  const Gemm4bitArgs& a = c.a;
  constexpr int kAcc = kAccumulators<MR>;
  const __m512i shift_odd = _mm512_set_epi32(24, 24, 24, 24, 16, 16, 16, 16, 8, 8, 8, 8, 0, 0, 0, 0);
  const __m512i shift_even = _mm512_add_epi32(shift_odd, _mm512_set1_epi32(4));
  __m512 acc[NR][MR][kAcc];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r)
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 2
      for (int i = 0; i < kAcc; ++i) acc[r][m][i] = _mm512_setzero_ps();
  __m512 tab[NR];
  const uint8_t* row[NR];
  int64_t first_block[NR];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
    row[r] = a.B + (n0 + r) * a.K / 2;
    first_block[r] = (n0 + r) * a.K / a.blocksize;
  }
  const float* ap = c.A + m0 * c.Kp;
  for (int64_t k0 = 0, jb = 0; k0 < a.K; ++jb) {
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r)
      tab[r] = _mm512_mul_ps(c.code, _mm512_set1_ps(gemm_4bit_block_scale(a, first_block[r] + jb)));
    const int64_t end = k0 + a.blocksize;
    for (; k0 < end; k0 += kChunk) step<NR, MR>(acc, tab, row, ap, c.Kp, k0, shift_even, shift_odd);
  }
  T* out = static_cast<T*>(a.out);
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
    const float bias = a.bias != nullptr ? a.bias[n0 + r] : 0.0f;
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m) {
      const __m512 s = kAcc == 2 ? _mm512_add_ps(acc[r][m][0], acc[r][m][kAcc - 1]) : acc[r][m][0];
      out[(m0 + m) * a.N + n0 + r] = from_f32<T>(_mm512_reduce_add_ps(s) + bias);
    }
  }
}

template <typename T, int MR>
void columns(const Ctx& c, int64_t n_begin, int64_t n_end, int64_t m0) {
  constexpr int NR = 4;
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
  const Ctx c{a, static_cast<const float*>(ws), padded_k(a.K), _mm512_loadu_ps(gemm_4bit_code(a))};
  dispatch_dtype(a.dtype, [&](auto tag) { run_typed<typename decltype(tag)::type>(c, n_begin, n_end); });
}

constexpr Gemm4bitPath kPath{"avx512", workspace_bytes, pack_a, run, supports};

}  // namespace

const Gemm4bitPath* gemm_4bit_avx512_path() { return &kPath; }

}  // namespace bnb::cpu
