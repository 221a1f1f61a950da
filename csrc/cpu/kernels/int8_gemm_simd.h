// Shared pieces of the SIMD int8 GEMM paths (int8_gemm_{avx2,avx_vnni,
// avx512_vnni,amx}.cpp): the scratch block size, the entry checks and dtype
// dispatch, the register-tile row dispatch, the blocked driver of the two
// VNNI paths, and (in AVX-512 files) the 32-column B panel of the AVX512-VNNI
// and AMX paths. In an anonymous namespace: every file compiles its own copy
// with its own ISA flags.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>

#include "../../common/dispatch.h"
#include "int8_gemm.h"
#include "scratch_buffer.h"

namespace bnb::cpu {
namespace {

// Rows of A per block: as many as keep the block within ~512 KiB (L2), a multiple of `mr`.
inline int64_t int8_gemm_block_rows(int64_t row_bytes, int64_t mr) {
  int64_t mc = (int64_t{512} << 10) / (row_bytes > 0 ? row_bytes : 1);
  mc = mc / mr * mr;
  if (mc < mr) mc = mr;
  if (mc > 1024) mc = 1024;
  return mc;
}

// A path's entry: empty ranges do nothing, K == 0 takes the scalar path, and run(tag) runs with
// decltype(tag)::type the output element (int32_t, or the dtype of the rescaled output).
template <typename Run>
void int8_gemm_entry(const Int8GemmArgs& a, int64_t m_begin, int64_t m_end, int64_t n_begin, int64_t n_end, Run run) {
  if (m_begin >= m_end || n_begin >= n_end) return;
  if (a.K == 0) {
    int8_gemm_scalar(a, m_begin, m_end, n_begin, n_end);
    return;
  }
  if (a.out_i32) {
    run(std::type_identity<int32_t>{});
    return;
  }
  dispatch_dtype(a.dtype, [&](auto tag) { run(std::type_identity<typename decltype(tag)::type>{}); });
}

// f(std::integral_constant<int, min(rows, R)>{}): a register tile's row count as a constant (rows >= 1).
template <int R, typename F>
void with_rows(int64_t rows, F&& f) {
  if constexpr (R > 1)
    if (rows < R) return with_rows<R - 1>(rows, f);
  f(std::integral_constant<int, R>{});
}

// The VNNI paths' blocked product over rows [m0, m1) x columns [n0, n1): B packed once into panels of kNR
// columns, pack_panel(a, n, n_end, k4n, dst) (k4n = K / 4 rounded up, kNR * k4n * 4 bytes a panel); A in
// L2-sized blocks of kMR-row groups, pack_rows(a, m, rows, k4n, dst, rowsum) (kMR * k4n * 4 bytes a group,
// rowsum: each row's sum); then tile(R, group, rowsum, panel, k4n, m, n, n_end) per (row group, panel), R an
// integral_constant of the group's rows.
template <int kNR, int kMR, typename PackPanel, typename PackRows, typename Tile>
void int8_gemm_blocked(const Int8GemmArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1, PackPanel pack_panel,
                       PackRows pack_rows, Tile tile) {
  static thread_local ScratchBuffer bbuf, abuf, sbuf;
  const int64_t k4n = (a.K + 3) / 4;
  const int64_t panel_bytes = k4n * kNR * 4;
  const int64_t panels = (n1 - n0 + kNR - 1) / kNR;
  auto* bp = static_cast<uint8_t*>(bbuf.get(static_cast<size_t>(panels * panel_bytes)));
  if (!bp) throw std::bad_alloc();
  for (int64_t p = 0; p < panels; ++p) pack_panel(a, n0 + p * kNR, n1, k4n, bp + p * panel_bytes);

  const int64_t group_bytes = k4n * kMR * 4;
  const int64_t mc = int8_gemm_block_rows(k4n * 4, kMR);
  auto* rowsum = static_cast<int32_t*>(sbuf.get(static_cast<size_t>(mc) * sizeof(int32_t)));
  auto* apack = static_cast<int8_t*>(abuf.get(static_cast<size_t>(mc / kMR * group_bytes)));
  if (!rowsum || !apack) throw std::bad_alloc();
  for (int64_t mb = m0; mb < m1; mb += mc) {
    const int64_t rows = std::min(mc, m1 - mb);
    for (int64_t r = 0; r < rows; r += kMR)
      pack_rows(a, mb + r, std::min<int64_t>(kMR, rows - r), k4n, apack + r / kMR * group_bytes, rowsum + r);
    for (int64_t p = 0; p < panels; ++p) {
      const int64_t pn = n0 + p * kNR;
      for (int64_t r = 0; r < rows; r += kMR)
        with_rows<kMR>(rows - r, [&](auto R) {
          tile(R, apack + r / kMR * group_bytes, rowsum + r, bp + p * panel_bytes, k4n, mb + r, pn,
               std::min(pn + kNR, n1));
        });
    }
  }
}

#if defined(__AVX512F__)
// Panel of B rows [n0, n0 + 32) -> d[k4 * 32 + j] = bytes 4 k4 .. 4 k4 + 3 of row n0 + j, each byte xor flip
// (0, or 0x80 to read signed bytes as unsigned + 128); the bytes past K and the rows past n_end are 0. A full
// panel takes two 16-lane gathers per k4 instead of 32 scattered stores.
inline void pack_int8_panel32(const Int8GemmArgs& a, int64_t n0, int64_t n_end, int64_t k4n, uint32_t* d,
                              uint8_t flip) {
  const int64_t cols = std::min<int64_t>(32, n_end - n0);
  const int64_t kfull = a.K / 4;
  const uint32_t flip4 = flip * 0x01010101u;
  if (cols < 32 || kfull < k4n) std::memset(d, 0, static_cast<size_t>(k4n) * 32 * 4);
  if (cols == 32 && a.K < (int64_t{1} << 26)) {  // int32 gather offsets
    const int8_t* rows = a.B + n0 * a.K;
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i idx0 = _mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int>(a.K)));
    const __m512i idx1 = _mm512_add_epi32(idx0, _mm512_set1_epi32(static_cast<int>(16 * a.K)));
    const __m512i x = _mm512_set1_epi32(static_cast<int>(flip4));
    for (int64_t k4 = 0; k4 < kfull; ++k4) {
      const __m512i off = _mm512_set1_epi32(static_cast<int>(4 * k4));
      const __m512i v0 = _mm512_i32gather_epi32(_mm512_add_epi32(idx0, off), rows, 1);
      const __m512i v1 = _mm512_i32gather_epi32(_mm512_add_epi32(idx1, off), rows, 1);
      _mm512_store_si512(d + k4 * 32, _mm512_xor_si512(v0, x));
      _mm512_store_si512(d + k4 * 32 + 16, _mm512_xor_si512(v1, x));
    }
  } else {
    for (int64_t j = 0; j < cols; ++j)
      for (int64_t k4 = 0; k4 < kfull; ++k4) {
        uint32_t w;
        std::memcpy(&w, a.B + (n0 + j) * a.K + 4 * k4, 4);
        d[k4 * 32 + j] = w ^ flip4;
      }
  }
  if (kfull * 4 < a.K)
    for (int64_t j = 0; j < cols; ++j) {
      uint8_t tail[4] = {0, 0, 0, 0};
      for (int64_t k = kfull * 4; k < a.K; ++k)
        tail[k - kfull * 4] = static_cast<uint8_t>(a.B[(n0 + j) * a.K + k]) ^ flip;
      std::memcpy(&d[kfull * 32 + j], tail, 4);
    }
}
#endif

}  // namespace
}  // namespace bnb::cpu
