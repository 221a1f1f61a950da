// Shared pieces of the SIMD int8 GEMM paths (int8_gemm_{avx2,avx_vnni,
// avx512_vnni,amx}.cpp): the scratch block size, the entry checks and dtype
// dispatch, and the register-tile row dispatch. In an anonymous namespace:
// every file compiles its own copy with its own ISA flags.
#pragma once

#include <cstdint>
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

}  // namespace
}  // namespace bnb::cpu
