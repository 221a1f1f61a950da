// Runs a prepared 4-bit matmul on torch's CPU thread pool.
//  - A SIMD path (kernels/gemm_4bit.h): A is packed into the chosen path's
//    layout (split by batch rows), then output columns are split across
//    threads in groups of the path's column_group.
//  - No SIMD path (the scalar level: non-x86 builds, BNB_CPU_SIMD=scalar) and
//    more than kFusedMaxBatch batch rows: the weight is dequantized one tile of
//    rows at a time into a cache-sized buffer in A's dtype (scales decoded for
//    that tile only) and each tile is multiplied by torch's GEMM, so the
//    decoded tile is reused by every batch row at the GEMM's speed.
//  - Otherwise the scalar path (the reference, every shape).
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "../prepare.h"
#include "kernels/dequantize_4bit.h"
#include "kernels/gemm_4bit.h"

namespace bnb::cpu {

inline void run_gemm_4bit_path(const Gemm4bitArgs& a, const Gemm4bitPath& path) {
  if (a.M == 0 || a.N == 0) return;
  const int64_t ws_bytes = path.workspace_bytes(a);
  at::Tensor ws;
  if (ws_bytes > 0) {
    ws = at::empty({ws_bytes}, at::TensorOptions().dtype(at::kByte));
    void* w = ws.data_ptr();
    const int64_t g = path.row_group;
    at::parallel_for(0, (a.M + g - 1) / g, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, a.K * g)),
                     [&](int64_t begin, int64_t end) { path.pack_a(a, w, begin * g, std::min(end * g, a.M)); });
  }
  const void* w = ws_bytes > 0 ? ws.data_ptr() : nullptr;
  const int64_t group = path.column_group;
  const int64_t groups = (a.N + group - 1) / group;
  const int64_t work_per_group = std::max<int64_t>(1, group * std::max<int64_t>(1, a.K) * a.M);
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / work_per_group);
  at::parallel_for(0, groups, grain,
                   [&](int64_t begin, int64_t end) { path.run(a, w, begin * group, std::min(end * group, a.N)); });
}

// The quant type whose table the weight uses, if it is one dequantize_4bit knows.
inline bool known_code(const Gemm4bitArgs& a, QuantType* qt) {
  if (a.code == nullptr) return *qt = a.quant_type, true;
  for (QuantType t : {QuantType::kNF4, QuantType::kFP4})
    if (std::memcmp(a.code, code_table(t).data(), 16 * sizeof(float)) == 0) return *qt = t, true;
  return false;
}

inline void run_gemm_4bit(const PreparedGemm4bit& p) {
  const Gemm4bitArgs& a = p.args;
  const Gemm4bitPath& path = gemm_4bit_path(a);
  QuantType qt;
  if (&path != &gemm_4bit_scalar_path() || a.M <= kFusedMaxBatch || a.K % a.blocksize != 0 || !known_code(a, &qt))
    return run_gemm_4bit_path(a, path);
  // rows per tile: about 1 MiB of decoded weight, a whole number of 16-row groups
  const int64_t tile_rows = std::max<int64_t>(16, (int64_t{1} << 19) / a.K / 16 * 16);
  const int64_t blocks_per_row = a.K / a.blocksize;
  const at::Tensor A2d = p.A.view({a.M, a.K});
  at::Tensor out2d = p.out.view({a.M, a.N});
  const at::Tensor bias = p.bias.defined() ? p.bias.to(p.A.scalar_type()) : at::Tensor();
  at::Tensor tile = at::empty({tile_rows, a.K}, p.A.options());
  at::Tensor product = at::empty({a.M, tile_rows}, p.A.options());
  std::vector<float> scales;
  for (int64_t n0 = 0; n0 < a.N; n0 += tile_rows) {
    const int64_t rows = std::min(tile_rows, a.N - n0);
    const int64_t blocks = rows * blocks_per_row;
    const float* absmax = a.absmax + n0 * blocks_per_row;
    if (a.absmax_8bit != nullptr) {
      scales.resize(static_cast<size_t>(blocks));
      for (int64_t j = 0; j < blocks; ++j) scales[j] = gemm_4bit_block_scale(a, n0 * blocks_per_row + j);
      absmax = scales.data();
    }
    const Dequantize4bitArgs d{.packed = a.B + n0 * a.K / 2,
                               .absmax = absmax,
                               .n = rows * a.K,
                               .blocksize = a.blocksize,
                               .quant_type = qt,
                               .out = tile.data_ptr(),
                               .dtype = a.dtype};
    at::parallel_for(0, blocks, std::max<int64_t>(1, 32768 / a.blocksize),
                     [&](int64_t begin, int64_t end) { dequantize_4bit(d, begin, end); });
    at::Tensor w = tile.narrow(0, 0, rows);
    at::Tensor prod = product.narrow(1, 0, rows);
    if (bias.defined())
      at::addmm_out(prod, bias.narrow(0, n0, rows), A2d, w.t());
    else
      at::mm_out(prod, A2d, w.t());
    out2d.narrow(1, n0, rows).copy_(prod);
  }
}

}  // namespace bnb::cpu
