// AVX512-VNNI path of the int8 GEMM. vpdpbusd multiplies unsigned by signed
// bytes, so B is packed as B + 128 (u8) and the surplus 128 * rowsum(A) is
// subtracted in the epilogue. B is packed per 32-column panel as
// [K/4][32][4] bytes; an 8 x 32 register tile accumulates over the whole K
// with A (packed per 8-row group as [K/4][8][4]) broadcast 4 bytes at a time; the rescale (+bias) runs on the
// registers, so the int32 product never goes to memory.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <type_traits>

#include "../../common/dispatch.h"
#include "int8_gemm.h"
#include "int8_gemm_simd.h"
#include "simd_avx512.h"

namespace bnb::cpu {
namespace {

using namespace avx512;

constexpr int kNR = 32;  // columns per panel
constexpr int kMR = 8;   // rows per register tile

// Panel of B rows [n0, n0 + 32) -> dst[k4][j][t] = B[n0 + j][4 k4 + t] + 128, zero padded.
void pack_panel(const Int8GemmArgs& a, int64_t n0, int64_t n_end, int64_t k4n, uint8_t* dst) {
  pack_int8_panel32(a, n0, n_end, k4n, reinterpret_cast<uint32_t*>(dst), 0x80);
}

// A row group packed as [K/4][8][4] bytes: one 32-byte step per 4 k, read front to back.
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
inline void tile_product(const int8_t* ap, const uint8_t* bp, int64_t k4n, __m512i (&acc)[kMR][2]) {
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
  for (int64_t k4 = 0; k4 < k4n; ++k4) {
    const __m512i b0 = _mm512_load_si512(bp + k4 * 128);
    const __m512i b1 = _mm512_load_si512(bp + k4 * 128 + 64);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      int32_t w;
      std::memcpy(&w, ap + k4 * 32 + r * 4, 4);
      const __m512i va = _mm512_set1_epi32(w);
      acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], b0, va);
      acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], b1, va);
    }
  }
}

template <int R, typename T>
void tile(const Int8GemmArgs& a, const int8_t* ap, const int32_t* rowsum, const uint8_t* bp, int64_t k4n, int64_t m0,
          int64_t n0, int64_t n_end) {
  __m512i acc[kMR][2];
  tile_product<R>(ap, bp, k4n, acc);
  const __m512 kscale = _mm512_set1_ps(kInt8MmScale);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const int64_t m = m0 + r;
    const __m512i corr = _mm512_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(rowsum[r]) << 7));
    for (int v = 0; v < 2; ++v) {
      const int64_t n = n0 + 16 * v;
      if (n >= n_end) break;
      const __mmask16 mask = first_n(n_end - n);
      const __m512i vi = _mm512_sub_epi32(acc[r][v], corr);
      if constexpr (std::is_same_v<T, int32_t>) {
        _mm512_mask_storeu_epi32(a.out_i32 + m * a.N + n, mask, vi);
      } else {
        const __m512 s = _mm512_mul_ps(_mm512_set1_ps(a.row_stats[m]), _mm512_maskz_loadu_ps(mask, a.col_stats + n));
        __m512 f = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(vi), s), kscale);
        if (a.bias) f = _mm512_add_ps(f, _mm512_maskz_loadu_ps(mask, a.bias + n));
        store16(static_cast<T*>(a.out) + m * a.N + n, f, mask);
      }
    }
  }
}

// Few rows (decoding): B is read once, straight from its rows, without packing.
// A is flipped to u8 (A + 128) once; the surplus 128 * sum_k B[n, k] is counted
// with a second vpdpbusd against ones. 64 bytes of K per step, masked tail.
template <typename T>
void small_m(const Int8GemmArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  static thread_local ScratchBuffer fbuf;
  constexpr int kRows = 4;
  const int64_t kpad = (a.K + 63) / 64 * 64;
  auto* af = static_cast<uint8_t*>(fbuf.get(static_cast<size_t>(kRows * kpad)));
  if (!af) throw std::bad_alloc();
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t mb = m0; mb < m1; mb += kRows) {
    const int rows = static_cast<int>(std::min<int64_t>(kRows, m1 - mb));
    for (int r = 0; r < rows; ++r) {
      const int8_t* src = a.A + (mb + r) * a.K;
      for (int64_t k = 0; k < a.K; ++k) af[r * kpad + k] = static_cast<uint8_t>(src[k] ^ 0x80);
      std::memset(af + r * kpad + a.K, 0, static_cast<size_t>(kpad - a.K));
    }
    for (int64_t n = n0; n < n1; ++n) {
      const int8_t* b = a.B + n * a.K;
      __m512i acc[kRows] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                            _mm512_setzero_si512()};
      __m512i sb = _mm512_setzero_si512();
      for (int64_t k = 0; k < a.K; k += 64) {
        const __mmask64 mask = a.K - k >= 64 ? ~__mmask64{0} : ((__mmask64{1} << (a.K - k)) - 1);
        const __m512i bv = _mm512_maskz_loadu_epi8(mask, b + k);
        sb = _mm512_dpbusd_epi32(sb, ones, bv);
        for (int r = 0; r < rows; ++r) acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_load_si512(af + r * kpad + k), bv);
      }
      const uint32_t corr = static_cast<uint32_t>(_mm512_reduce_add_epi32(sb)) << 7;
      for (int r = 0; r < rows; ++r) {
        const int32_t v = static_cast<int32_t>(static_cast<uint32_t>(_mm512_reduce_add_epi32(acc[r])) - corr);
        if constexpr (std::is_same_v<T, int32_t>)
          a.out_i32[(mb + r) * a.N + n] = v;
        else
          int8_store_scaled<T>(a, mb + r, n, v);
      }
    }
  }
}

template <typename T>
void run(const Int8GemmArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  if (m1 - m0 <= 4) {
    small_m<T>(a, m0, m1, n0, n1);
    return;
  }
  int8_gemm_blocked<kNR, kMR>(a, m0, m1, n0, n1, pack_panel, pack_rows,
                              [&](auto R, auto... args) { tile<decltype(R)::value, T>(a, args...); });
}

}  // namespace

void int8_gemm_avx512_vnni(const Int8GemmArgs& a, int64_t m_begin, int64_t m_end, int64_t n_begin, int64_t n_end) {
  int8_gemm_entry(a, m_begin, m_end, n_begin, n_end,
                  [&](auto t) { run<typename decltype(t)::type>(a, m_begin, m_end, n_begin, n_end); });
}

}  // namespace bnb::cpu
