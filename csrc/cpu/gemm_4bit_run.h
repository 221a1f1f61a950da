// Runs a prepared 4-bit matmul on torch's CPU thread pool: A is packed into the
// chosen path's layout (split by batch rows), then output columns are split
// across threads in groups of kGemm4bitColumnGroup.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>

#include "kernels/gemm_4bit.h"

namespace bnb::cpu {

inline void run_gemm_4bit(const Gemm4bitArgs& a) {
  if (a.M == 0 || a.N == 0) return;
  const Gemm4bitPath& path = gemm_4bit_path(a);
  const int64_t ws_bytes = path.workspace_bytes(a);
  at::Tensor ws;
  if (ws_bytes > 0) {
    ws = at::empty({ws_bytes}, at::TensorOptions().dtype(at::kByte));
    void* w = ws.data_ptr();
    at::parallel_for(0, a.M, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, a.K)),
                     [&](int64_t begin, int64_t end) { path.pack_a(a, w, begin, end); });
  }
  const void* w = ws_bytes > 0 ? ws.data_ptr() : nullptr;
  const int64_t groups = (a.N + kGemm4bitColumnGroup - 1) / kGemm4bitColumnGroup;
  const int64_t work_per_group = std::max<int64_t>(1, kGemm4bitColumnGroup * std::max<int64_t>(1, a.K) * a.M);
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / work_per_group);
  at::parallel_for(0, groups, grain, [&](int64_t begin, int64_t end) {
    path.run(a, w, begin * kGemm4bitColumnGroup, std::min(end * kGemm4bitColumnGroup, a.N));
  });
}

}  // namespace bnb::cpu
