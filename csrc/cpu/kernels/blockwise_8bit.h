// 8-bit blockwise quantization with a 256-entry code (the dynamic map by
// default), torch-free. Quantization reproduces the reference CPU bytes: the
// scaled value is snapped to the 65536-point grid of common/format.h and the
// grid point's nearest code is read from a prebuilt table.
#pragma once

#include <cstdint>
#include <cstring>

#include "../../common/args.h"
#include "../../common/format.h"
#include "../../common/half.h"

namespace bnb::cpu {

// kGridPoints entries plus padding so 4-byte gathers never read past the end.
inline constexpr int64_t kGridLutBytes = kGridPoints + 4;

// The SIMD paths compute grid indices a chunk at a time, then read the table
// with plain loads: on current x86 cores these beat a hardware gather ~1.4x.
inline constexpr int kGridChunk = 256;
inline void read_grid_lut(const uint8_t* lut, const uint32_t* idx, uint8_t* out, int64_t count) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const uint64_t w = static_cast<uint64_t>(lut[idx[i]]) | static_cast<uint64_t>(lut[idx[i + 1]]) << 8 |
                       static_cast<uint64_t>(lut[idx[i + 2]]) << 16 | static_cast<uint64_t>(lut[idx[i + 3]]) << 24 |
                       static_cast<uint64_t>(lut[idx[i + 4]]) << 32 | static_cast<uint64_t>(lut[idx[i + 5]]) << 40 |
                       static_cast<uint64_t>(lut[idx[i + 6]]) << 48 | static_cast<uint64_t>(lut[idx[i + 7]]) << 56;
    std::memcpy(out + i, &w, 8);
  }
  for (; i < count; ++i) out[i] = lut[idx[i]];
}

using QuantizeBlockwiseFn = void (*)(const QuantizeBlockwiseArgs&, int64_t, int64_t);
using DequantizeBlockwiseFn = void (*)(const DequantizeBlockwiseArgs&, int64_t, int64_t);

void quantize_blockwise_scalar(const QuantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end);
void quantize_blockwise_avx2(const QuantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end);
void quantize_blockwise_avx512(const QuantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end);
void quantize_blockwise(const QuantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end);

void dequantize_blockwise_scalar(const DequantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end);
void dequantize_blockwise_avx2(const DequantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end);
void dequantize_blockwise_avx512(const DequantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end);
void dequantize_blockwise(const DequantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end);

}  // namespace bnb::cpu
