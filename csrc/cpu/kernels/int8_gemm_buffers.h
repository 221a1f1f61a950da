// Scratch sizes of the SIMD int8 GEMM paths (their per-thread buffers are
// ScratchBuffers: packed B panels, padded A rows, row sums).
#pragma once

#include <cstdint>

#include "scratch_buffer.h"

namespace bnb::cpu {

// Rows of A per block: as many as keep the block within ~512 KiB (L2), a multiple of `mr`.
inline int64_t int8_gemm_block_rows(int64_t row_bytes, int64_t mr) {
  int64_t mc = (int64_t{512} << 10) / (row_bytes > 0 ? row_bytes : 1);
  mc = mc / mr * mr;
  if (mc < mr) mc = mr;
  if (mc > 1024) mc = 1024;
  return mc;
}

}  // namespace bnb::cpu
