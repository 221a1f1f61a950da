// LLM.int8() quantization kernels, torch-free: row-wise (vectorwise) absmax
// int8 with outlier columns, the column pass of double quant, and the
// rescaling kernels (int8_vectorwise_dequant, int8_mm_dequant).
#pragma once

#include <cmath>
#include <cstdint>

#include "../../common/args.h"

namespace bnb::cpu {

// round-half-even of v to int8 as torch's round().to(int8) gives for |v| <= 127.5; NaN -> 0.
inline int8_t int8_round(float v) {
  if (!(v == v)) return 0;
  float r = std::nearbyint(v);
  r = r > 127.0f ? 127.0f : (r < -128.0f ? -128.0f : r);
  return static_cast<int8_t>(r);
}

// flags[c] = 1 when some row has |x[r, c]| >= threshold, for c in [col_begin, col_end).
void int8_find_outlier_cols(const Int8QuantArgs& a, uint8_t* flags, int64_t col_begin, int64_t col_end);
// Row pass (row_q, row_stats) for rows [row_begin, row_end): the scalar path, the
// AVX-512 path (bit-identical) and the run-time choice.
void int8_quant_rows_scalar(const Int8QuantArgs& a, int64_t row_begin, int64_t row_end);
void int8_quant_rows_avx512(const Int8QuantArgs& a, int64_t row_begin, int64_t row_end);
void int8_quant_rows(const Int8QuantArgs& a, int64_t row_begin, int64_t row_end);
// Column pass (col_q, col_stats) for columns [col_begin, col_end).
void int8_quant_cols(const Int8QuantArgs& a, int64_t col_begin, int64_t col_end);

void int8_vectorwise_dequant(const Int8VectorDequantArgs& a, int64_t row_begin, int64_t row_end);
void int8_mm_dequant(const Int8MmDequantArgs& a, int64_t row_begin, int64_t row_end);

}  // namespace bnb::cpu
