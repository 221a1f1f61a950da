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

// ---- LLM.int8() (issue 5) ---------------------------------------------------
// int8_vectorwise_quant / int8_double_quant of a row-major [rows, cols] matrix.
struct Int8QuantArgs {
  const void* input;  // rows * cols elements of `dtype`
  DType dtype;
  int64_t rows, cols;
  float threshold;              // > 0: elements with |x| >= threshold are outliers (0 in the output, not in the stats)
  const uint8_t* outlier_cols;  // cols flags (1 = the column holds an outlier) or nullptr; zeroed when rows > 1
  int8_t* row_q;                // round(x * (127 * (1 / row_stats[r]))), NaN -> 0
  float* row_stats;             // max |x| of the row's non-outliers (NaN propagates)
  int8_t* col_q;                // double quant only: round(cast(x * 127) / col_stats[c]), or nullptr
  float* col_stats;             // double quant only: max |x| of the column's non-outliers, or nullptr
};

// int8_vectorwise_dequant: out = float(in) * stats[r] * (1 / 127), two fp32 roundings.
struct Int8VectorDequantArgs {
  const int8_t* in;
  const float* stats;
  int64_t rows, cols;
  float* out;
};

// The int8 GEMM C = A @ B^T (A [M, K], B [N, K], both row-major int8) and its
// epilogue: int32 to out_i32, or, when out_i32 is null, the rescale of
// int8_mm_dequant fused: cast(float(C) * (row_stats[m] * col_stats[n]) * kInt8MmScale (+ bias[n])).
struct Int8GemmArgs {
  const int8_t* A;
  const int8_t* B;
  int64_t M, N, K;
  int32_t* out_i32;  // [M, N] int32, or nullptr for the scaled epilogue
  void* out;         // [M, N] of `dtype` (scaled epilogue)
  DType dtype;
  const float* row_stats;  // M
  const float* col_stats;  // N
  const float* bias;       // N (fp32) or nullptr
};

// int8_mm_dequant: the scaled epilogue above applied to an int32 matrix.
struct Int8MmDequantArgs {
  const int32_t* in;  // [rows, cols]
  int64_t rows, cols;
  const float* row_stats;
  const float* col_stats;
  const float* bias;  // cols (fp32) or nullptr
  void* out;
  DType dtype;
};

// 1/127^2 as the reference's portable backend rounds it (its CUDA kernel uses 6.200012e-05f).
inline constexpr float kInt8MmScale = 6.200124e-05f;
// 1/127 as the reference's int8_vectorwise_dequant writes it.
inline constexpr float kInt8DequantScale = 7.874015718698502e-3f;

}  // namespace bnb
