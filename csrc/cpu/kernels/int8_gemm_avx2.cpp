// AVX2 path of the int8 GEMM (for CPUs without VNNI): operands widened to
// int16 and multiplied with vpmaddwd (exact: no saturation). B is packed per
// 16-column panel as [K/2][16][2] int16, A rows are widened per block; a
// 6 x 16 register tile accumulates over the whole K, and the rescale (+bias)
// runs on the registers.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <type_traits>

#include "../../common/dispatch.h"
#include "int8_gemm.h"
#include "int8_gemm_simd.h"
#include "simd_avx2.h"

namespace bnb::cpu {
namespace {

using namespace avx2;

constexpr int kNR = 16;
constexpr int kMR = 6;

void pack_panel(const Int8GemmArgs& a, int64_t n0, int64_t n_end, int64_t k2n, int16_t* dst) {
  const int64_t cols = std::min<int64_t>(kNR, n_end - n0);
  std::memset(dst, 0, static_cast<size_t>(k2n) * kNR * 2 * sizeof(int16_t));
  for (int64_t j = 0; j < cols; ++j) {
    const int8_t* src = a.B + (n0 + j) * a.K;
    for (int64_t k = 0; k < a.K; ++k) dst[((k >> 1) * kNR + j) * 2 + (k & 1)] = src[k];
  }
}

template <int R>
inline void tile_product(const int16_t* A, int64_t lda, const int16_t* bp, int64_t k2n, __m256i (&acc)[kMR][2]) {
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  for (int64_t k2 = 0; k2 < k2n; ++k2) {
    const __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(bp + k2 * 32));
    const __m256i b1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(bp + k2 * 32 + 16));
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      int32_t w;
      std::memcpy(&w, A + r * lda + 2 * k2, 4);
      const __m256i va = _mm256_set1_epi32(w);
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(b0, va));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(b1, va));
    }
  }
}

template <int R, typename T>
void tile(const Int8GemmArgs& a, const int16_t* A, int64_t lda, const int16_t* bp, int64_t k2n, int64_t m0, int64_t n0,
          int64_t n_end) {
  __m256i acc[kMR][2];
  tile_product<R>(A, lda, bp, k2n, acc);
  const __m256 kscale = _mm256_set1_ps(kInt8MmScale);
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    const int64_t m = m0 + r;
    for (int v = 0; v < 2; ++v) {
      const int64_t n = n0 + 8 * v;
      if (n >= n_end) break;
      const int64_t count = std::min<int64_t>(8, n_end - n);
      if constexpr (std::is_same_v<T, int32_t>) {
        if (count == 8) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(a.out_i32 + m * a.N + n), acc[r][v]);
        } else {
          alignas(32) int32_t tmp[8];
          _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), acc[r][v]);
          std::memcpy(a.out_i32 + m * a.N + n, tmp, static_cast<size_t>(count) * sizeof(int32_t));
        }
      } else if (count == 8) {
        const __m256 s = _mm256_mul_ps(_mm256_set1_ps(a.row_stats[m]), _mm256_loadu_ps(a.col_stats + n));
        __m256 f = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][v]), s), kscale);
        if (a.bias) f = _mm256_add_ps(f, _mm256_loadu_ps(a.bias + n));
        store8(static_cast<T*>(a.out) + m * a.N + n, f);
      } else {
        alignas(32) int32_t tmp[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), acc[r][v]);
        for (int64_t j = 0; j < count; ++j) int8_store_scaled<T>(a, m, n + j, tmp[j]);
      }
    }
  }
}

template <typename T>
void run(const Int8GemmArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  static thread_local ScratchBuffer bbuf, abuf;
  const int64_t k2n = (a.K + 1) / 2;
  const int64_t panel_elems = k2n * kNR * 2;
  const int64_t panels = (n1 - n0 + kNR - 1) / kNR;
  auto* bp = static_cast<int16_t*>(bbuf.get(static_cast<size_t>(panels * panel_elems) * sizeof(int16_t)));
  if (!bp) throw std::bad_alloc();
  for (int64_t p = 0; p < panels; ++p) pack_panel(a, n0 + p * kNR, n1, k2n, bp + p * panel_elems);

  const int64_t lda = k2n * 2;
  const int64_t mc = int8_gemm_block_rows(lda * 2, kMR);
  auto* A16 = static_cast<int16_t*>(abuf.get(static_cast<size_t>(mc * lda) * sizeof(int16_t)));
  if (!A16) throw std::bad_alloc();
  for (int64_t mb = m0; mb < m1; mb += mc) {
    const int64_t rows = std::min(mc, m1 - mb);
    for (int64_t r = 0; r < rows; ++r) {
      const int8_t* x = a.A + (mb + r) * a.K;
      int16_t* d = A16 + r * lda;
      for (int64_t k = 0; k < a.K; ++k) d[k] = x[k];
      if (lda > a.K) d[a.K] = 0;
    }
    for (int64_t p = 0; p < panels; ++p) {
      const int16_t* panel = bp + p * panel_elems;
      const int64_t pn = n0 + p * kNR;
      const int64_t pn_end = std::min(pn + kNR, n1);
      for (int64_t r = 0; r < rows; r += kMR) {
        const int16_t* Ar = A16 + r * lda;
        const int64_t m = mb + r;
        with_rows<kMR>(rows - r, [&](auto R) { tile<R, T>(a, Ar, lda, panel, k2n, m, pn, pn_end); });
      }
    }
  }
}

}  // namespace

void int8_gemm_avx2(const Int8GemmArgs& a, int64_t m_begin, int64_t m_end, int64_t n_begin, int64_t n_end) {
  int8_gemm_entry(a, m_begin, m_end, n_begin, n_end,
                  [&](auto t) { run<typename decltype(t)::type>(a, m_begin, m_end, n_begin, n_end); });
}

}  // namespace bnb::cpu
