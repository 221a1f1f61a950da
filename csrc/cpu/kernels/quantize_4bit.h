// 4-bit (NF4 / FP4) blockwise quantization, torch-free.
#pragma once

#include <cstdint>

#include "../../common/args.h"
#include "../../common/format.h"
#include "../../common/half.h"

namespace bnb::cpu {

// Quantizes blocks [block_begin, block_end). Each path writes identical bytes.
using Quantize4bitFn = void (*)(const Quantize4bitArgs&, int64_t block_begin, int64_t block_end);
void quantize_4bit_scalar(const Quantize4bitArgs& a, int64_t block_begin, int64_t block_end);
void quantize_4bit_avx2(const Quantize4bitArgs& a, int64_t block_begin, int64_t block_end);
void quantize_4bit_avx512(const Quantize4bitArgs& a, int64_t block_begin, int64_t block_end);
// The path chosen for this machine / BNB_CPU_SIMD.
void quantize_4bit(const Quantize4bitArgs& a, int64_t block_begin, int64_t block_end);

// Shared by every path. Values are scaled by max(absmax, 1e-38) (NaN stays NaN)
// as format.h's scale_4bit says. The stored absmax is the raw block maximum for full blocks and the
// clamped one for a partial last block, as the reference CPU path stores them.
inline float clamp_4bit_absmax(float amax) {
  return amax != amax ? amax : (amax < k4bitAbsmaxFloor ? k4bitAbsmaxFloor : amax);
}
inline float stored_4bit_absmax(float raw, int64_t len, int64_t blocksize) {
  return len == blocksize ? raw : clamp_4bit_absmax(raw);
}
// An odd element count pads the last low nibble with the code of 0.0 (NF4 7,
// FP4 0), whatever the block's absmax.
inline uint8_t zero_code(QuantType qt) {
  return sorted_to_code_table(qt)[nearest_4bit_sorted_position(0.0f, midpoint_table(qt).data())];
}
inline void pad_odd_tail(const Quantize4bitArgs& a) {
  if (a.n % 2) a.packed[a.n / 2] = static_cast<uint8_t>((a.packed[a.n / 2] & 0xF0) | zero_code(a.quant_type));
}

}  // namespace bnb::cpu
