// AVX512-BF16 path of the 4-bit matmul, for bf16 A. Per 128 weight columns of
// a row: one 64-byte load; three 16-bit shifts give the four nibbles of each
// 16-bit lane as vpermw indices into the 16 code values (bf16, duplicated to
// 32 entries so index bit 4 does not matter); four vdpbf16ps multiply them
// with A (products exact in fp32) into a fresh fp32 sum; one FMA adds that sum
// times the scales of its blocks to the total. fp32 lane l of a step covers
// columns [8l, 8l + 8) (l < 8) and [64 + 8(l - 8), ...) and so lies in one
// block for every blocksize >= 32.
//
// A is packed once so that its columns line up with the lanes: per 128 columns
// four groups of 32, lane i of group g holding column 4i + {1, 0, 3, 2}[g].
// Needs K % blocksize == 0 (rows start on a block); other shapes take the
// scalar path.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "gemm_4bit.h"

namespace bnb::cpu {
namespace {

constexpr int64_t kStep = 128;                 // weight columns per step
constexpr int kGroupColumn[4] = {1, 0, 3, 2};  // nibble group -> column offset within 4

inline int64_t padded_k(int64_t K) { return (K + kStep - 1) / kStep * kStep; }

int64_t workspace_bytes(const Gemm4bitArgs& a) { return a.M * padded_k(a.K) * 2; }

void pack_a(const Gemm4bitArgs& a, void* ws, int64_t m_begin, int64_t m_end) {
  const int64_t Kp = padded_k(a.K);
  for (int64_t m = m_begin; m < m_end; ++m) {
    uint16_t* dst = static_cast<uint16_t*>(ws) + m * Kp;
    const uint16_t* src = static_cast<const uint16_t*>(a.A) + m * a.K;
    for (int64_t k0 = 0; k0 < Kp; k0 += kStep)
      for (int g = 0; g < 4; ++g)
        for (int i = 0; i < 32; ++i) {
          const int64_t col = k0 + 4 * i + kGroupColumn[g];
          dst[k0 + 32 * g + i] = col < a.K ? src[col] : 0;
        }
  }
}

bool supports(const Gemm4bitArgs& a) { return a.dtype == DType::kBF16 && a.K % a.blocksize == 0; }

struct Ctx {
  const Gemm4bitArgs& a;
  const uint16_t* A;  // packed, M x Kp
  int64_t Kp;
  __m512i code;  // 32 bf16: the 16 code values twice
};

// The scale of each fp32 lane of a step whose first block is scales[0] (`count` of them exist: fewer
// than kBlocks only in a row's last, partial step). kBlocks: blocks per step (4: blocksize 32, 2: 64).
template <int kBlocks>
inline __m512 step_scales(const float* scales, int count) {
  if (count < kBlocks) {
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int b = 0; b < count; ++b) s[b] = scales[b];
    return step_scales<kBlocks>(s, kBlocks);
  }
  if constexpr (kBlocks == 2) {
    return _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(scales[0]), _mm512_set1_ps(scales[1]));
  } else {
    const __m512i pattern = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    return _mm512_permutexvar_ps(pattern, _mm512_castps128_ps512(_mm_loadu_ps(scales)));
  }
}

// The block scales of NR rows: the absmax itself, or decoded once per tile from the nested absmax.
template <int NR>
struct RowScales {
  const float* row[NR];
  RowScales(const Gemm4bitArgs& a, int64_t n0) {
    const int64_t per_row = a.K / a.blocksize;
    if (a.absmax_8bit == nullptr) {
      for (int r = 0; r < NR; ++r) row[r] = a.absmax + (n0 + r) * per_row;
      return;
    }
    thread_local std::vector<float> buffer;
    buffer.resize(static_cast<size_t>(NR * per_row));
    for (int r = 0; r < NR; ++r) {
      row[r] = buffer.data() + r * per_row;
      for (int64_t b = 0; b < per_row; ++b) buffer[r * per_row + b] = gemm_4bit_block_scale(a, (n0 + r) * per_row + b);
    }
  }
};

// The four bf16 weight vectors (code values) of a row's step at column k0.
template <bool kTail>
[[gnu::always_inline]] inline void decode(const Ctx& c, const uint8_t* row, int64_t k0, __m512bh (&w)[4]) {
  __m512i x;
  if constexpr (kTail) {
    const int64_t bytes = (c.a.K - k0) / 2;  // 16, 32 or 48
    x = _mm512_maskz_loadu_epi8((uint64_t{1} << bytes) - 1, row + k0 / 2);
  } else {
    _mm_prefetch(reinterpret_cast<const char*>(row + k0 / 2 + 1024), _MM_HINT_T0);
    x = _mm512_loadu_si512(row + k0 / 2);
  }
  w[0] = reinterpret_cast<__m512bh>(_mm512_permutexvar_epi16(x, c.code));
  w[1] = reinterpret_cast<__m512bh>(_mm512_permutexvar_epi16(_mm512_srli_epi16(x, 4), c.code));
  w[2] = reinterpret_cast<__m512bh>(_mm512_permutexvar_epi16(_mm512_srli_epi16(x, 8), c.code));
  w[3] = reinterpret_cast<__m512bh>(_mm512_permutexvar_epi16(_mm512_srli_epi16(x, 12), c.code));
}

// Rows: the packed bytes of NR weight rows, or (kDecoded) their code values decoded by decode_rows.
template <int NR, bool kDecoded>
struct Rows {
  const void* row[NR];
};

template <int NR, int MR, int kBlocks, bool kTail, bool kDecoded>
[[gnu::always_inline]] inline void step(const Ctx& c, __m512 (&acc)[NR][MR], const __m512 (&scale)[NR],
                                        const Rows<NR, kDecoded>& rows, const uint16_t* ap, int64_t k0) {
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
    __m512bh w[4];
    if constexpr (kDecoded) {
      const uint16_t* d = static_cast<const uint16_t*>(rows.row[r]) + k0;
#pragma GCC unroll 4
      for (int g = 0; g < 4; ++g) w[g] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(d + 32 * g));
    } else {
      decode<kTail>(c, static_cast<const uint8_t*>(rows.row[r]), k0, w);
    }
    const __m512bh w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m) {
      const uint16_t* p = ap + m * c.Kp + k0;
      __m512 t = _mm512_dpbf16_ps(_mm512_setzero_ps(), w0, reinterpret_cast<__m512bh>(_mm512_loadu_si512(p)));
      t = _mm512_dpbf16_ps(t, w1, reinterpret_cast<__m512bh>(_mm512_loadu_si512(p + 32)));
      t = _mm512_dpbf16_ps(t, w2, reinterpret_cast<__m512bh>(_mm512_loadu_si512(p + 64)));
      t = _mm512_dpbf16_ps(t, w3, reinterpret_cast<__m512bh>(_mm512_loadu_si512(p + 96)));
      acc[r][m] = _mm512_fmadd_ps(t, scale[r], acc[r][m]);
    }
  }
}

template <int NR, int MR, int kBlocks, bool kDecoded>
[[gnu::noinline]] void tile(const Ctx& c, int64_t n0, int64_t m0, const uint16_t* decoded) {
  const Gemm4bitArgs& a = c.a;
  __m512 acc[NR][MR];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r)
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m) acc[r][m] = _mm512_setzero_ps();
  __m512 scale[NR];
  Rows<NR, kDecoded> rows;
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r)
    rows.row[r] = kDecoded ? static_cast<const void*>(decoded + r * c.Kp) : a.B + (n0 + r) * a.K / 2;
  const RowScales<NR> sc(a, n0);  // rows start on a block (K % blocksize == 0)
  const uint16_t* ap = c.A + m0 * c.Kp;
  const int64_t full = a.K / kStep * kStep;
  if constexpr (kBlocks == 1) {
    for (int64_t k0 = 0, b = 0; k0 < full; ++b) {
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) scale[r] = _mm512_set1_ps(sc.row[r][b]);
      for (const int64_t end = k0 + a.blocksize; k0 < end; k0 += kStep)
        step<NR, MR, kBlocks, false, kDecoded>(c, acc, scale, rows, ap, k0);
    }
  } else {
    int64_t b = 0;
    for (int64_t k0 = 0; k0 < full; k0 += kStep, b += kBlocks) {
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) scale[r] = step_scales<kBlocks>(sc.row[r] + b, kBlocks);
      step<NR, MR, kBlocks, false, kDecoded>(c, acc, scale, rows, ap, k0);
    }
    if (full < a.K) {
      const int count = static_cast<int>((a.K - full) / a.blocksize);
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) scale[r] = step_scales<kBlocks>(sc.row[r] + b, count);
      step<NR, MR, kBlocks, true, kDecoded>(c, acc, scale, rows, ap, full);
    }
  }
  bf16_t* out = static_cast<bf16_t*>(a.out);
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
    const float bias = a.bias != nullptr ? a.bias[n0 + r] : 0.0f;
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m)
      out[(m0 + m) * a.N + n0 + r] = from_f32<bf16_t>(_mm512_reduce_add_ps(acc[r][m]) + bias);
  }
}

// Decodes weight rows n0..n0+nr into `out` (nr x Kp code values in step order), once for every batch tile.
void decode_rows(const Ctx& c, int64_t n0, int nr, uint16_t* out) {
  const int64_t full = c.a.K / kStep * kStep;
  for (int r = 0; r < nr; ++r) {
    const uint8_t* row = c.a.B + (n0 + r) * c.a.K / 2;
    uint16_t* d = out + r * c.Kp;
    __m512bh w[4];
    for (int64_t k0 = 0; k0 < full; k0 += kStep) {
      decode<false>(c, row, k0, w);
      for (int g = 0; g < 4; ++g) _mm512_storeu_si512(d + k0 + 32 * g, reinterpret_cast<__m512i>(w[g]));
    }
    if (full < c.a.K) {
      decode<true>(c, row, full, w);
      for (int g = 0; g < 4; ++g) _mm512_storeu_si512(d + full + 32 * g, reinterpret_cast<__m512i>(w[g]));
    }
  }
}

template <int NR, int kBlocks, bool kDecoded>
void batch_tiles(const Ctx& c, int64_t n0, const uint16_t* decoded) {
  for (int64_t m0 = 0; m0 < c.a.M; m0 += 4) {
    switch (std::min<int64_t>(4, c.a.M - m0)) {
      case 1: tile<NR, 1, kBlocks, kDecoded>(c, n0, m0, decoded); break;
      case 2: tile<NR, 2, kBlocks, kDecoded>(c, n0, m0, decoded); break;
      case 3: tile<NR, 3, kBlocks, kDecoded>(c, n0, m0, decoded); break;
      default: tile<NR, 4, kBlocks, kDecoded>(c, n0, m0, decoded); break;
    }
  }
}

// Up to 4 batch rows: the weights are decoded in registers (GEMV streams them once). More: each group of
// 4 weight rows is decoded once into a buffer that stays in L1/L2 and reused by every batch tile.
template <int kBlocks>
void run_blocks(const Ctx& c, int64_t n_begin, int64_t n_end) {
  constexpr int NR = 4;
  if (c.a.M <= 4) {
    int64_t n = n_begin;
    for (; n + NR <= n_end; n += NR) batch_tiles<NR, kBlocks, false>(c, n, nullptr);
    for (; n < n_end; ++n) batch_tiles<1, kBlocks, false>(c, n, nullptr);
    return;
  }
  thread_local std::vector<uint16_t> buffer;
  buffer.resize(static_cast<size_t>(NR * c.Kp));
  int64_t n = n_begin;
  for (; n + NR <= n_end; n += NR) {
    decode_rows(c, n, NR, buffer.data());
    batch_tiles<NR, kBlocks, true>(c, n, buffer.data());
  }
  for (; n < n_end; ++n) {
    decode_rows(c, n, 1, buffer.data());
    batch_tiles<1, kBlocks, true>(c, n, buffer.data());
  }
}

void run(const Gemm4bitArgs& a, const void* ws, int64_t n_begin, int64_t n_end) {
  const __m256i code16 = reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_loadu_ps(gemm_4bit_code(a))));
  const Ctx c{a, static_cast<const uint16_t*>(ws), padded_k(a.K), _mm512_broadcast_i64x4(code16)};
  if (a.blocksize == 32)
    run_blocks<4>(c, n_begin, n_end);
  else if (a.blocksize == 64)
    run_blocks<2>(c, n_begin, n_end);
  else
    run_blocks<1>(c, n_begin, n_end);
}

constexpr Gemm4bitPath kPath{"avx512_bf16", workspace_bytes, pack_a, run, supports};

}  // namespace

const Gemm4bitPath* gemm_4bit_avx512_bf16_path() { return &kPath; }

}  // namespace bnb::cpu
