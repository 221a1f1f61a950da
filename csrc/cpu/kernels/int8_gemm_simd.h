// Shared pieces of the SIMD int8 GEMM paths (int8_gemm_{avx2,avx_vnni,
// avx512_vnni,amx}.cpp): the scratch block size, the entry checks and dtype
// dispatch, the register-tile row dispatch, and the blocked driver of the two
// VNNI paths. In an anonymous namespace: every file compiles its own copy with
// its own ISA flags.
#pragma once

#include <algorithm>
#include <cstdint>
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

}  // namespace
}  // namespace bnb::cpu
