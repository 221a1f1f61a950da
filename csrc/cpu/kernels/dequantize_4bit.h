// 4-bit (NF4 / FP4) blockwise dequantization, torch-free:
// out[i] = cast(code[nibble(i)] * absmax[i / blocksize]), the product in fp32.
#pragma once

#include <cstdint>

#include "../../common/format.h"
#include "../../common/half.h"

namespace bnb::cpu {

struct Dequantize4bitArgs {
  const uint8_t* packed;  // (n + 1) / 2 bytes
  const float* absmax;    // num_blocks(n, blocksize)
  int64_t n;
  int64_t blocksize;  // even, >= 2
  QuantType quant_type;
  void* out;  // n elements of `dtype`
  DType dtype;
};

using Dequantize4bitFn = void (*)(const Dequantize4bitArgs&, int64_t block_begin, int64_t block_end);
void dequantize_4bit_scalar(const Dequantize4bitArgs& a, int64_t block_begin, int64_t block_end);
void dequantize_4bit_avx2(const Dequantize4bitArgs& a, int64_t block_begin, int64_t block_end);
void dequantize_4bit_avx512(const Dequantize4bitArgs& a, int64_t block_begin, int64_t block_end);
void dequantize_4bit(const Dequantize4bitArgs& a, int64_t block_begin, int64_t block_end);

}  // namespace bnb::cpu
