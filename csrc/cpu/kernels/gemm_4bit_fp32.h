// fp32 kernels of the 4-bit matmul, written once for the AVX2 and AVX-512
// twins. gemm_4bit_avx2.cpp and gemm_4bit_avx512.cpp each define their ISA
// traits `Isa` in an anonymous namespace and then include this file, whose
// contents are in an anonymous namespace too: every file compiles its own copy
// with its own ISA flags, so no inline code is shared across flags (ODR).
//
// Isa provides: `vec` (L fp32 lanes, L = 8 or 16) with zero / load / store /
// set1 / fmadd / hsum; `Code` (the 16 code values in registers) and
// `Table` (code * scale of one block) with code(), table(), rounded<T>();
// `Idx` with widen(p) (L packed bytes, one per 32-bit lane) and the lookups
// hi(table, idx) (high nibbles: columns 2i) and lo(table, idx) (low nibbles:
// columns 2i + 1); and the register-blocking constants below.
//
// Column order. A step covers 2L weight columns: position p < L holds column
// 2p, position L + p column 2p + 1 (the order hi/lo produce). A is packed once
// per call into that order, so the weights are never shuffled.
//
// Fused kernels (few batch rows): each weight row is decoded in registers,
// block by block, and dotted with every batch row in fp32; weights are exact
// code * scale in fp32.
//
// Tiled kernels (more rows): per 48 weight rows and 256 columns the weights are
// decoded once into an fp32 panel that stays in L1/L2, rounded to A's dtype as
// dequantize_4bit gives them (so results differ from the scalar path only in
// the order of the fp32 sums), and a register-blocked micro-kernel multiplies
// the panel with all batch rows: NR weight rows x (16 or 32) batch rows of
// fp32 accumulators, each weight broadcast, packed A read as vectors. Packed A
// is transposed into panels of L batch rows, [panel][K][L], so one load gives
// one column of L batch rows. Batch rows go in super-blocks of 64 (the weights
// are decoded once per super-block), and K in the fewest equal blocks over each
// of which a super-block's packed A stays within ~1 MiB of L2; the fp32 sums of the thread's columns
// persist across K blocks.
#pragma once

#include <immintrin.h>

#include <algorithm>

#include "../../common/dispatch.h"
#include "gemm_4bit.h"
#include "scratch_buffer.h"

namespace bnb::cpu {
namespace {

using vec = Isa::vec;
constexpr int L = Isa::L;
constexpr int64_t kStep = 2 * L;  // weight columns per decode step

// The weight column at position p of a step.
constexpr int64_t step_column(int64_t p) { return p < L ? 2 * p : 2 * (p - L) + 1; }

// Rows start on a block and steps never straddle one (blocksize >= 32 >= kStep).
bool simd_supports(const Gemm4bitArgs& a) { return a.K > 0 && a.K % a.blocksize == 0; }

// ---- fused -------------------------------------------------------------------------------------------------

int64_t fused_workspace(const Gemm4bitArgs& a) { return a.M * a.K * 4; }

template <typename T>
void fused_pack_rows(const Gemm4bitArgs& a, float* ws, int64_t m_begin, int64_t m_end) {
  for (int64_t m = m_begin; m < m_end; ++m) {
    float* dst = ws + m * a.K;
    const T* src = static_cast<const T*>(a.A) + m * a.K;
    for (int64_t k0 = 0; k0 < a.K; k0 += kStep)
      for (int64_t p = 0; p < kStep; ++p) dst[k0 + p] = to_f32(src[k0 + step_column(p)]);
  }
}

void fused_pack(const Gemm4bitArgs& a, void* ws, int64_t m_begin, int64_t m_end) {
  dispatch_dtype(a.dtype, [&](auto tag) {
    fused_pack_rows<typename decltype(tag)::type>(a, static_cast<float*>(ws), m_begin, m_end);
  });
}

// MR == 1: two accumulators per weight row (hi and lo columns) to hide the FMA latency.
template <int MR>
constexpr int kFusedAcc = MR == 1 ? 2 : 1;

template <typename T, int NR, int MR>
[[gnu::noinline]] void fused_tile(const Gemm4bitArgs& a, const Isa::Code& code, const float* A, int64_t n0,
                                  int64_t m0) {
  constexpr int kAcc = kFusedAcc<MR>;
  vec acc[NR][MR][kAcc];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r)
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 2
      for (int i = 0; i < kAcc; ++i) acc[r][m][i] = Isa::zero();
  const uint8_t* row[NR];
  int64_t first_block[NR];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
    row[r] = a.B + (n0 + r) * a.K / 2;
    first_block[r] = (n0 + r) * a.K / a.blocksize;
  }
  const float* ap = A + m0 * a.K;
  Isa::Table tab[NR];
  for (int64_t k0 = 0, jb = 0; k0 < a.K; ++jb) {
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) tab[r] = Isa::table(code, gemm_4bit_block_scale(a, first_block[r] + jb));
    for (const int64_t end = k0 + a.blocksize; k0 < end; k0 += kStep) {
      if (k0 % 128 == 0) {  // a new cache line of each row: fetch that line of the rows the next tile reads
#pragma GCC unroll 8
        for (int r = 0; r < NR; ++r)
          _mm_prefetch(reinterpret_cast<const char*>(row[r] + (NR * a.K + k0) / 2), _MM_HINT_T0);
      }
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) {
        const Isa::Idx x = Isa::widen(row[r] + k0 / 2);
        const vec hi = Isa::hi(tab[r], x), lo = Isa::lo(tab[r], x);
#pragma GCC unroll 4
        for (int m = 0; m < MR; ++m) {
          const float* p = ap + m * a.K + k0;
          acc[r][m][0] = Isa::fmadd(hi, Isa::load(p), acc[r][m][0]);
          acc[r][m][kAcc - 1] = Isa::fmadd(lo, Isa::load(p + L), acc[r][m][kAcc - 1]);
        }
      }
    }
  }
  T* out = static_cast<T*>(a.out);
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
    const float bias = a.bias != nullptr ? a.bias[n0 + r] : 0.0f;
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m) {
      const vec s = kAcc == 2 ? Isa::add(acc[r][m][0], acc[r][m][kAcc - 1]) : acc[r][m][0];
      out[(m0 + m) * a.N + n0 + r] = from_f32<T>(Isa::hsum(s) + bias);
    }
  }
}

template <typename T, int MR>
void fused_columns(const Gemm4bitArgs& a, const Isa::Code& code, const float* A, int64_t n_begin, int64_t n_end,
                   int64_t m0) {
  constexpr int NR = Isa::kFusedRows<MR>;
  int64_t n = n_begin;
  for (; n + NR <= n_end; n += NR) fused_tile<T, NR, MR>(a, code, A, n, m0);
  for (; n < n_end; ++n) fused_tile<T, 1, MR>(a, code, A, n, m0);
}

template <typename T>
void fused_run_typed(const Gemm4bitArgs& a, const float* A, int64_t n_begin, int64_t n_end) {
  const Isa::Code code = Isa::code(gemm_4bit_code(a));
  constexpr int64_t kGroup = 16;  // a group's weights stay in cache across the batch rows
  for (int64_t g = n_begin; g < n_end; g += kGroup) {
    const int64_t ge = std::min(g + kGroup, n_end);
    for (int64_t m0 = 0; m0 < a.M; m0 += 4) {
      switch (std::min<int64_t>(4, a.M - m0)) {
        case 1: fused_columns<T, 1>(a, code, A, g, ge, m0); break;
        case 2: fused_columns<T, 2>(a, code, A, g, ge, m0); break;
        case 3: fused_columns<T, 3>(a, code, A, g, ge, m0); break;
        default: fused_columns<T, 4>(a, code, A, g, ge, m0); break;
      }
    }
  }
}

void fused_run(const Gemm4bitArgs& a, const void* ws, int64_t n_begin, int64_t n_end) {
  dispatch_dtype(a.dtype, [&](auto tag) {
    fused_run_typed<typename decltype(tag)::type>(a, static_cast<const float*>(ws), n_begin, n_end);
  });
}

// ---- tiled -------------------------------------------------------------------------------------------------

constexpr int64_t kPanelRows = 48;  // weight rows decoded together (a multiple of both micro-kernels' NR)
constexpr int64_t kChunk = 128;     // weight columns per decoded panel
static_assert(kPanelRows % Isa::kTileRows<1> == 0 && kPanelRows % Isa::kTileRows<2> == 0);

inline int64_t tiled_panels(int64_t M) { return (M + L - 1) / L; }

int64_t tiled_workspace(const Gemm4bitArgs& a) { return tiled_panels(a.M) * L * a.K * 4; }

template <typename T>
void tiled_pack_rows(const Gemm4bitArgs& a, float* ws, int64_t m_begin, int64_t m_end) {
  // the last call also zeroes the lanes of the last panel past M
  const int64_t m_stop = m_end == a.M ? tiled_panels(a.M) * L : m_end;
  for (int64_t m = m_begin; m < m_stop; ++m) {
    float* dst = ws + (m / L) * a.K * L + m % L;
    if (m >= a.M) {
      for (int64_t k = 0; k < a.K; ++k) dst[k * L] = 0.0f;
      continue;
    }
    const T* src = static_cast<const T*>(a.A) + m * a.K;
    for (int64_t k0 = 0; k0 < a.K; k0 += kStep)
      for (int64_t p = 0; p < kStep; ++p) dst[(k0 + p) * L] = to_f32(src[k0 + step_column(p)]);
  }
}

void tiled_pack(const Gemm4bitArgs& a, void* ws, int64_t m_begin, int64_t m_end) {
  dispatch_dtype(a.dtype, [&](auto tag) {
    tiled_pack_rows<typename decltype(tag)::type>(a, static_cast<float*>(ws), m_begin, m_end);
  });
}

// Weight rows [n0, n0 + rows) x columns [k_begin, k_begin + kc) -> panel[r * kChunk + position], in A's dtype.
template <typename T>
void decode_panel(const Gemm4bitArgs& a, const Isa::Code& code, int64_t n0, int64_t rows, int64_t k_begin, int64_t kc,
                  float* panel) {
  const int64_t k_end = k_begin + kc;
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = a.B + (n0 + r) * a.K / 2;
    float* dst = panel + r * kChunk - k_begin;
    int64_t block = ((n0 + r) * a.K + k_begin) / a.blocksize;
    // the row's next chunk, to L2 (rows are read in short runs the hardware prefetchers miss)
    for (int64_t k = k_end; k < std::min(a.K, k_end + kc); k += 128)
      _mm_prefetch(reinterpret_cast<const char*>(row + k / 2), _MM_HINT_T1);
    for (int64_t k0 = k_begin; k0 < k_end; ++block) {
      const Isa::Table tab = Isa::rounded<T>(Isa::table(code, gemm_4bit_block_scale(a, block)));
      // to the block's end (blocksize is a power of 2)
      for (const int64_t end = std::min(k_end, (k0 | (a.blocksize - 1)) + 1); k0 < end; k0 += kStep) {
        const Isa::Idx x = Isa::widen(row + k0 / 2);
        Isa::store(dst + k0, Isa::hi(tab, x));
        Isa::store(dst + k0 + L, Isa::lo(tab, x));
      }
    }
  }
}

// c[r * ldc + v * L + lane] (+)= sum_k w[r * kChunk + k] * x[v * xv + k * L + lane] for NR rows, MV vectors.
template <int NR, int MV>
[[gnu::noinline]] void micro_kernel(const float* w, const float* x, int64_t xv, int64_t kc, float* c, int64_t ldc,
                                    bool first) {
  vec acc[NR][MV];
#pragma GCC unroll 32
  for (int r = 0; r < NR; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < MV; ++v) acc[r][v] = first ? Isa::zero() : Isa::load(c + r * ldc + v * L);
  for (int64_t k = 0; k < kc; ++k) {
    vec xk[MV];
#pragma GCC unroll 2
    for (int v = 0; v < MV; ++v) xk[v] = Isa::load(x + v * xv + k * L);
#pragma GCC unroll 32
    for (int r = 0; r < NR; ++r) {
      const vec b = Isa::set1(w[r * kChunk + k]);
#pragma GCC unroll 2
      for (int v = 0; v < MV; ++v) acc[r][v] = Isa::fmadd(b, xk[v], acc[r][v]);
    }
  }
#pragma GCC unroll 32
  for (int r = 0; r < NR; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < MV; ++v) Isa::store(c + r * ldc + v * L, acc[r][v]);
}

// Batch rows per super-block (the weights are decoded once per super-block).
constexpr int64_t kSuperRows = 64;

// Columns per K block: K in the fewest equal blocks (whole chunks) over each of which a
// super-block's packed A (fp32) stays within ~1 MiB of L2.
inline int64_t k_block(int64_t K, int64_t rows) {
  const int64_t blocks = (4 * rows * K + (int64_t{1} << 20) - 1) >> 20;
  return ((K + blocks - 1) / blocks + kChunk - 1) / kChunk * kChunk;
}

template <typename T>
void tiled_run_typed(const Gemm4bitArgs& a, const float* X, int64_t n_begin, int64_t n_end) {
  const Isa::Code code = Isa::code(gemm_4bit_code(a));
  const int64_t mc_max = std::min(kSuperRows, tiled_panels(a.M) * L);
  static thread_local ScratchBuffer panel_buffer, c_buffer;
  float* panel = scratch<float>(panel_buffer, kPanelRows * kChunk);
  // the fp32 sums of this thread's columns x one super-block, kept across K blocks
  float* cbuf = scratch<float>(c_buffer, (n_end - n_begin + kPanelRows - 1) / kPanelRows * kPanelRows * mc_max);
  T* out = static_cast<T*>(a.out);
  for (int64_t ms = 0; ms < a.M; ms += mc_max) {
    const int64_t mc = std::min(mc_max, a.M - ms), mcp = (mc + L - 1) / L * L;  // ms is a multiple of L
    const int64_t kb_len = k_block(a.K, mcp);
    for (int64_t kb = 0; kb < a.K; kb += kb_len) {
      const int64_t kb_end = std::min(a.K, kb + kb_len);
      for (int64_t n0 = n_begin; n0 < n_end; n0 += kPanelRows) {
        const int64_t rows = std::min(kPanelRows, n_end - n0);
        float* c = cbuf + (n0 - n_begin) * mcp;
        for (int64_t k0 = kb; k0 < kb_end; k0 += kChunk) {
          const int64_t kc = std::min(kChunk, kb_end - k0);
          decode_panel<T>(a, code, n0, rows, k0, kc, panel);
          for (int64_t mb = 0; mb < mcp;) {
            const float* x = X + ((ms + mb) / L * a.K + k0) * L;
            if (mcp - mb >= 2 * L) {
              constexpr int NR = Isa::kTileRows<2>;
              for (int64_t r0 = 0; r0 < rows; r0 += NR)
                micro_kernel<NR, 2>(panel + r0 * kChunk, x, a.K * L, kc, c + r0 * mcp + mb, mcp, k0 == 0);
              mb += 2 * L;
            } else {
              constexpr int NR = Isa::kTileRows<1>;
              for (int64_t r0 = 0; r0 < rows; r0 += NR)
                micro_kernel<NR, 1>(panel + r0 * kChunk, x, a.K * L, kc, c + r0 * mcp + mb, mcp, k0 == 0);
              mb += L;
            }
          }
        }
        if (kb_end < a.K) continue;
        for (int64_t m = 0; m < mc; ++m) {  // the panel's outputs are complete
          T* o = out + (ms + m) * a.N + n0;
          for (int64_t r = 0; r < rows; ++r)
            o[r] = from_f32<T>(c[r * mcp + m] + (a.bias != nullptr ? a.bias[n0 + r] : 0.0f));
        }
      }
    }
  }
}

void tiled_run(const Gemm4bitArgs& a, const void* ws, int64_t n_begin, int64_t n_end) {
  dispatch_dtype(a.dtype, [&](auto tag) {
    tiled_run_typed<typename decltype(tag)::type>(a, static_cast<const float*>(ws), n_begin, n_end);
  });
}

}  // namespace
}  // namespace bnb::cpu
