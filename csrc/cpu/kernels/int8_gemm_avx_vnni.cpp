// AVX-VNNI path of the int8 GEMM (VEX-encoded vpdpbusd on ymm: CPUs with
// AVX-VNNI but without AVX-512, e.g. Alder Lake). Same scheme as the
// AVX512-VNNI path at half the width: B packed per 16-column panel as
// [K/4][16][4] bytes of B + 128, A packed per 6-row group as [K/4][6][4], a
// 6 x 16 register tile over the whole K, 128 * rowsum(A) subtracted and the
// rescale (+bias) applied from the registers.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
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

void pack_panel(const Int8GemmArgs& a, int64_t n0, int64_t n_end, int64_t k4n, uint8_t* dst) {
  const int64_t cols = std::min<int64_t>(kNR, n_end - n0);
  const int64_t kfull = a.K / 4;
  uint32_t* d = reinterpret_cast<uint32_t*>(dst);
  if (cols < kNR || kfull < k4n) std::memset(dst, 0, static_cast<size_t>(k4n) * kNR * 4);
  for (int64_t j = 0; j < cols; ++j) {
    const int8_t* src = a.B + (n0 + j) * a.K;
    for (int64_t k4 = 0; k4 < kfull; ++k4) {
      uint32_t w;
      std::memcpy(&w, src + 4 * k4, 4);
      d[k4 * kNR + j] = w ^ 0x80808080u;
    }
    if (kfull < k4n) {
      uint8_t tail[4] = {0, 0, 0, 0};
      for (int64_t k = kfull * 4; k < a.K; ++k) tail[k - kfull * 4] = static_cast<uint8_t>(src[k] ^ 0x80);
      std::memcpy(&d[kfull * kNR + j], tail, 4);
    }
  }
}

void pack_rows(const Int8GemmArgs& a, int64_t m0, int64_t rows, int64_t k4n, int8_t* dst, int32_t* rowsum) {
  const int64_t kfull = a.K / 4;
  if (rows < kMR || kfull < k4n) std::memset(dst, 0, static_cast<size_t>(k4n) * kMR * 4);
  uint32_t* d = reinterpret_cast<uint32_t*>(dst);
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* src = a.A + (m0 + r) * a.K;
    int32_t s = 0;
    for (int64_t k = 0; k < a.K; ++k) s += src[k];
    rowsum[r] = s;
    for (int64_t k4 = 0; k4 < kfull; ++k4) std::memcpy(&d[k4 * kMR + r], src + 4 * k4, 4);
    if (kfull < k4n) {
      int8_t tail[4] = {0, 0, 0, 0};
      for (int64_t k = kfull * 4; k < a.K; ++k) tail[k - kfull * 4] = src[k];
      std::memcpy(&d[kfull * kMR + r], tail, 4);
    }
  }
}

template <int R>
inline void tile_product(const int8_t* ap, const uint8_t* bp, int64_t k4n, __m256i (&acc)[kMR][2]) {
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  for (int64_t k4 = 0; k4 < k4n; ++k4) {
    const __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(bp + k4 * 64));
    const __m256i b1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(bp + k4 * 64 + 32));
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      int32_t w;
      std::memcpy(&w, ap + k4 * (kMR * 4) + r * 4, 4);
      const __m256i va = _mm256_set1_epi32(w);
      acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], b0, va);
      acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], b1, va);
    }
  }
}

template <int R, typename T>
void tile(const Int8GemmArgs& a, const int8_t* ap, const int32_t* rowsum, const uint8_t* bp, int64_t k4n, int64_t m0,
          int64_t n0, int64_t n_end) {
  __m256i acc[kMR][2];
  tile_product<R>(ap, bp, k4n, acc);
  const __m256 kscale = _mm256_set1_ps(kInt8MmScale);
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    const int64_t m = m0 + r;
    const __m256i corr = _mm256_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(rowsum[r]) << 7));
    for (int v = 0; v < 2; ++v) {
      const int64_t n = n0 + 8 * v;
      if (n >= n_end) break;
      const int64_t count = std::min<int64_t>(8, n_end - n);
      const __m256i vi = _mm256_sub_epi32(acc[r][v], corr);
      if constexpr (std::is_same_v<T, int32_t>) {
        if (count == 8) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(a.out_i32 + m * a.N + n), vi);
        } else {
          alignas(32) int32_t tmp[8];
          _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), vi);
          std::memcpy(a.out_i32 + m * a.N + n, tmp, static_cast<size_t>(count) * sizeof(int32_t));
        }
      } else if (count == 8) {
        const __m256 s = _mm256_mul_ps(_mm256_set1_ps(a.row_stats[m]), _mm256_loadu_ps(a.col_stats + n));
        __m256 f = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(vi), s), kscale);
        if (a.bias) f = _mm256_add_ps(f, _mm256_loadu_ps(a.bias + n));
        store8(static_cast<T*>(a.out) + m * a.N + n, f);
      } else {
        alignas(32) int32_t tmp[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), vi);
        for (int64_t j = 0; j < count; ++j) int8_store_scaled<T>(a, m, n + j, tmp[j]);
      }
    }
  }
}

template <typename T>
void run(const Int8GemmArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  int8_gemm_blocked<kNR, kMR>(a, m0, m1, n0, n1, pack_panel, pack_rows,
                              [&](auto R, auto... args) { tile<decltype(R)::value, T>(a, args...); });
}

}  // namespace

void int8_gemm_avx_vnni(const Int8GemmArgs& a, int64_t m_begin, int64_t m_end, int64_t n_begin, int64_t n_end) {
  int8_gemm_entry(a, m_begin, m_end, n_begin, n_end,
                  [&](auto t) { run<typename decltype(t)::type>(a, m_begin, m_end, n_begin, n_end); });
}

}  // namespace bnb::cpu
