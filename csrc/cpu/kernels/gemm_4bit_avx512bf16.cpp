// AVX512-BF16 path of the 4-bit matmul, for bf16 A. Per 64 weight columns of a
// row: one 32-byte load broadcast to both halves of a zmm, two per-lane shifts
// (vpsrlvw) turn it into 2 x 32 nibble indices, two vpermw look them up in a
// 32-entry bf16 table (code * scale, rounded to bf16 as dequantize_4bit
// rounds it; for blocksize 32 the halves hold two blocks), and two vdpbf16ps
// multiply-accumulate them with A in fp32. A is packed once so that its
// columns line up with that lane order:
//   even lanes i < 16: column 4i,  i >= 16: 4(i-16)+2;  odd lanes: those + 1.
// Needs K % blocksize == 0 (rows start on a block); other shapes take the
// scalar path.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "gemm_4bit.h"

namespace bnb::cpu {
namespace {

constexpr int64_t kChunk = 64;  // weight columns per step

inline int64_t padded_k(int64_t K) { return (K + kChunk - 1) / kChunk * kChunk; }

// column of lane `lane` (0..31) of the even register within a 64-column chunk
constexpr int even_column(int lane) { return lane < 16 ? 4 * lane : 4 * (lane - 16) + 2; }

int64_t workspace_bytes(const Gemm4bitArgs& a) { return a.M * padded_k(a.K) * 2; }

void pack_a(const Gemm4bitArgs& a, void* ws, int64_t m_begin, int64_t m_end) {
  const int64_t Kp = padded_k(a.K);
  const uint16_t* A = static_cast<const uint16_t*>(a.A);
  for (int64_t m = m_begin; m < m_end; ++m) {
    uint16_t* dst = static_cast<uint16_t*>(ws) + m * Kp;
    const uint16_t* src = A + m * a.K;
    for (int64_t k0 = 0; k0 < Kp; k0 += kChunk)
      for (int lane = 0; lane < 32; ++lane) {
        const int64_t ce = k0 + even_column(lane), co = ce + 1;
        dst[k0 + lane] = ce < a.K ? src[ce] : 0;
        dst[k0 + 32 + lane] = co < a.K ? src[co] : 0;
      }
  }
}

bool supports(const Gemm4bitArgs& a) { return a.dtype == DType::kBF16 && a.K % a.blocksize == 0; }

struct Ctx {
  const Gemm4bitArgs& a;
  const uint16_t* A;  // packed, M x Kp
  int64_t Kp;
  __m512 code;
};

// bf16 table: lanes 0..15 code * scale(lo), lanes 16..31 code * scale(hi)
inline __m512i table(const Ctx& c, float lo, float hi) {
  return reinterpret_cast<__m512i>(
      _mm512_cvtne2ps_pbh(_mm512_mul_ps(c.code, _mm512_set1_ps(hi)), _mm512_mul_ps(c.code, _mm512_set1_ps(lo))));
}

struct Consts {
  __m512i shift_even, shift_odd, select, low4;
  Consts()
      : shift_even(_mm512_set_epi64(0x000C000C000C000Cll, 0x000C000C000C000Cll, 0x000C000C000C000Cll,
                                    0x000C000C000C000Cll, 0x0004000400040004ll, 0x0004000400040004ll,
                                    0x0004000400040004ll, 0x0004000400040004ll)),
        shift_odd(_mm512_set_epi64(0x0008000800080008ll, 0x0008000800080008ll, 0x0008000800080008ll,
                                   0x0008000800080008ll, 0, 0, 0, 0)),
        // bit 4 of an index picks the table half: set in the lanes whose column is >= 32
        select(_mm512_set_epi64(0x0010001000100010ll, 0x0010001000100010ll, 0, 0, 0x0010001000100010ll,
                                0x0010001000100010ll, 0, 0)),
        low4(_mm512_set1_epi16(15)) {}
};

template <int MR>
constexpr int kAccumulators = MR == 1 ? 2 : 1;  // separate even/odd accumulators when there are few

// One 64-column step of NR weight rows against MR packed batch rows. kTail: only 32 columns are left.
template <int NR, int MR, bool kSplit, bool kTail>
[[gnu::always_inline]] inline void step(__m512 (&acc)[NR][MR][kAccumulators<MR>], const __m512i (&tab)[NR],
                                        const uint8_t* const (&row)[NR], const uint16_t* ap, int64_t Kp, int64_t k0,
                                        const Consts& k) {
  constexpr int kAcc = kAccumulators<MR>;
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
    __m512i x;
    if constexpr (!kTail) {
      x = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row[r] + k0 / 2)));
    } else {
      x = _mm512_broadcast_i64x4(_mm256_maskz_loadu_epi8(0xFFFF, row[r] + k0 / 2));
    }
    __m512i ie = _mm512_srlv_epi16(x, k.shift_even), io = _mm512_srlv_epi16(x, k.shift_odd);
    if constexpr (kSplit) {
      ie = _mm512_ternarylogic_epi32(ie, k.low4, k.select, 0xEA);  // (ie & low4) | select
      io = _mm512_ternarylogic_epi32(io, k.low4, k.select, 0xEA);
    }
    const __m512bh we = reinterpret_cast<__m512bh>(_mm512_permutexvar_epi16(ie, tab[r]));
    const __m512bh wo = reinterpret_cast<__m512bh>(_mm512_permutexvar_epi16(io, tab[r]));
    // In a tail step the lanes past K read zeros of the packed A (and the block's own table entries).
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m) {
      const uint16_t* p = ap + m * Kp + k0;
      acc[r][m][0] = _mm512_dpbf16_ps(acc[r][m][0], we, reinterpret_cast<__m512bh>(_mm512_loadu_si512(p)));
      acc[r][m][kAcc - 1] =
          _mm512_dpbf16_ps(acc[r][m][kAcc - 1], wo, reinterpret_cast<__m512bh>(_mm512_loadu_si512(p + 32)));
    }
  }
}

// Output columns n0..n0+NR, batch rows m0..m0+MR. kSplit: blocksize 32 (two blocks per step).
template <int NR, int MR, bool kSplit>
[[gnu::noinline]] void tile(const Ctx& c, int64_t n0, int64_t m0) {
  const Gemm4bitArgs& a = c.a;
  constexpr int kAcc = kAccumulators<MR>;
  const Consts k;
  __m512 acc[NR][MR][kAcc];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r)
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 2
      for (int i = 0; i < kAcc; ++i) acc[r][m][i] = _mm512_setzero_ps();
  __m512i tab[NR];
  const uint8_t* row[NR];
  int64_t first_block[NR];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
    row[r] = a.B + (n0 + r) * a.K / 2;
    first_block[r] = (n0 + r) * a.K / a.blocksize;  // rows start on a block (K % blocksize == 0)
  }
  const uint16_t* ap = c.A + m0 * c.Kp;
  const int64_t full = a.K / kChunk * kChunk;
  const int64_t block_cols = kSplit ? kChunk : a.blocksize;
  int64_t jb = 0;  // block of the step, relative to the row
  for (int64_t k0 = 0; k0 < full; jb += kSplit ? 2 : 1) {
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) {
      const float lo = gemm_4bit_block_scale(a, first_block[r] + jb);
      tab[r] = table(c, lo, kSplit ? gemm_4bit_block_scale(a, first_block[r] + jb + 1) : lo);
    }
    const int64_t end = std::min(k0 + block_cols, full);
    for (; k0 < end; k0 += kChunk) step<NR, MR, kSplit, false>(acc, tab, row, ap, c.Kp, k0, k);
  }
  if (full < a.K) {
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) {
      const float lo = gemm_4bit_block_scale(a, first_block[r] + jb);
      tab[r] = table(c, lo, lo);
    }
    step<NR, MR, kSplit, true>(acc, tab, row, ap, c.Kp, full, k);
  }
  bf16_t* out = static_cast<bf16_t*>(a.out);
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
    const float bias = a.bias != nullptr ? a.bias[n0 + r] : 0.0f;
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m) {
      const __m512 s = kAcc == 2 ? _mm512_add_ps(acc[r][m][0], acc[r][m][kAcc - 1]) : acc[r][m][0];
      out[(m0 + m) * a.N + n0 + r] = from_f32<bf16_t>(_mm512_reduce_add_ps(s) + bias);
    }
  }
}

template <int MR, bool kSplit>
void columns(const Ctx& c, int64_t n_begin, int64_t n_end, int64_t m0) {
  constexpr int NR = 4;
  int64_t n = n_begin;
  for (; n + NR <= n_end; n += NR) tile<NR, MR, kSplit>(c, n, m0);
  for (; n < n_end; ++n) tile<1, MR, kSplit>(c, n, m0);
}

template <bool kSplit>
void run_split(const Ctx& c, int64_t n_begin, int64_t n_end) {
  const int64_t M = c.a.M;
  // column groups outermost so a group's weights stay in cache across the batch rows
  constexpr int64_t kGroup = 16;
  for (int64_t g = n_begin; g < n_end; g += kGroup) {
    const int64_t ge = std::min(g + kGroup, n_end);
    for (int64_t m0 = 0; m0 < M; m0 += 4) {
      switch (std::min<int64_t>(4, M - m0)) {
        case 1: columns<1, kSplit>(c, g, ge, m0); break;
        case 2: columns<2, kSplit>(c, g, ge, m0); break;
        case 3: columns<3, kSplit>(c, g, ge, m0); break;
        default: columns<4, kSplit>(c, g, ge, m0); break;
      }
    }
  }
}

void run(const Gemm4bitArgs& a, const void* ws, int64_t n_begin, int64_t n_end) {
  const Ctx c{a, static_cast<const uint16_t*>(ws), padded_k(a.K), _mm512_loadu_ps(gemm_4bit_code(a))};
  if (a.blocksize == 32)
    run_split<true>(c, n_begin, n_end);
  else
    run_split<false>(c, n_begin, n_end);
}

constexpr Gemm4bitPath kPath{"avx512_bf16", workspace_bytes, pack_a, run, supports};

}  // namespace

const Gemm4bitPath* gemm_4bit_avx512_bf16_path() { return &kPath; }

}  // namespace bnb::cpu
