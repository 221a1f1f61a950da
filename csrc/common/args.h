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

// gemm_4bit / gemv_4bit: out[m, n] = cast(sum_k A[m, k] * W[n, k] + bias[n]), fp32 accumulation, where
// W [N, K] is the 4-bit weight in C order (flat element e = n * K + k; block e / blocksize) with
//   W[n, k] = code[nibble(e)] * scale(e / blocksize),
//   scale(j) = absmax[j]                                                   (absmax_8bit == nullptr)
//   scale(j) = absmax_code[absmax_8bit[j]] * absmax[j / 256] + *absmax_offset (double quantization).
struct Gemm4bitArgs {
  const void* A;  // M x K row-major, `dtype`
  DType dtype;
  int64_t M, N, K;
  const uint8_t* B;   // packed W: (N * K + 1) / 2 bytes, element 2i in the high nibble
  const float* code;  // 16 fp32 code values (gemv_4bit's table), or nullptr: code_table(quant_type)
  QuantType quant_type;
  int64_t blocksize;           // power of two, 32..4096
  const float* absmax;         // num_blocks(N * K, blocksize) scales, or the nested absmax (one per 256 blocks)
  const uint8_t* absmax_8bit;  // nullptr, or num_blocks(N * K, blocksize) 8-bit codes of the scales
  const float* absmax_code;    // 256 entries (with absmax_8bit)
  const float* absmax_offset;  // 1 entry (with absmax_8bit)
  const float* bias;           // N fp32 entries, or nullptr
  void* out;                   // M x N row-major, `dtype`
};

}  // namespace bnb
