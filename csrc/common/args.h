// Arguments of the torch-free kernels, shared by the CPU kernels and the GPU
// launchers: raw pointers, sizes and enums only.
#pragma once

#include <cstdint>

#include "format.h"
#include "half.h"

namespace bnb {

// quantize_4bit: blockwise NF4/FP4 codes and one absmax per block.
struct Quantize4bitArgs {
  const void* input;  // n elements of `dtype`
  DType dtype;
  int64_t n;
  int64_t blocksize;  // even, >= 2
  QuantType quant_type;
  uint8_t* packed;  // (n + 1) / 2 bytes, element 2i in the high nibble
  float* absmax;    // num_blocks(n, blocksize) entries
};

// dequantize_4bit: out[i] = cast(code[nibble(i)] * absmax[i / blocksize]), the product in fp32.
struct Dequantize4bitArgs {
  const uint8_t* packed;  // (n + 1) / 2 bytes
  const float* absmax;    // num_blocks(n, blocksize)
  int64_t n;
  int64_t blocksize;  // even, >= 2
  QuantType quant_type;
  void* out;  // n elements of `dtype`
  DType dtype;
};

// quantize_blockwise: 8-bit codes of a 256-entry code table, one absmax per block.
struct QuantizeBlockwiseArgs {
  const void* input;  // n elements of `dtype`
  DType dtype;
  int64_t n;
  int64_t blocksize;        // > 0
  const uint8_t* grid_lut;  // CPU: build_grid_lut(code), kGridLutBytes bytes
  const float* code;        // GPU: the 256 sorted code values
  uint8_t* out;             // n bytes
  float* absmax;            // num_blocks(n, blocksize); NaNs are skipped, an all-zero block stores 0
};

// dequantize_blockwise: out[i] = cast(code[in[i]] * absmax[i / blocksize]).
struct DequantizeBlockwiseArgs {
  const uint8_t* in;  // n bytes
  const float* code;  // 256 entries
  const float* absmax;
  int64_t n;
  int64_t blocksize;
  void* out;  // n elements of `dtype`: cast(code[in[i]] * absmax[i / blocksize])
  DType dtype;
};

}  // namespace bnb
