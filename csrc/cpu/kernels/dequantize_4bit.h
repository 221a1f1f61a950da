// 4-bit (NF4 / FP4) blockwise dequantization, torch-free:
// out[i] = cast(code[nibble(i)] * absmax[i / blocksize]), the product in fp32.
#pragma once

#include <cstdint>

#include "../../common/args.h"
#include "../../common/format.h"
#include "../../common/half.h"

namespace bnb::cpu {

using Dequantize4bitFn = void (*)(const Dequantize4bitArgs&, int64_t block_begin, int64_t block_end);
void dequantize_4bit_scalar(const Dequantize4bitArgs& a, int64_t block_begin, int64_t block_end);
void dequantize_4bit_avx2(const Dequantize4bitArgs& a, int64_t block_begin, int64_t block_end);
void dequantize_4bit_avx512(const Dequantize4bitArgs& a, int64_t block_begin, int64_t block_end);
void dequantize_4bit(const Dequantize4bitArgs& a, int64_t block_begin, int64_t block_end);

}  // namespace bnb::cpu
