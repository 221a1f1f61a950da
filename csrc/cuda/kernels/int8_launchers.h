// Torch-free host entry points of the LLM.int8() GPU kernels (see launchers.h
// for the conventions: launch on `stream`, return nullptr or the error string).
#pragma once

#include <cstdint>

#include "../../common/args.h"

namespace bnb::gpu {

// int8_vectorwise_quant (a.col_q null) or int8_double_quant. flags: null, or a
// buffer of a.cols bytes that receives 1 per column with an |x| >= a.threshold
// (a.threshold > 0); with more than one row those columns are zeroed in row_q.
// a.outlier_cols is ignored. Nothing is read back to the host.
const char* launch_int8_quant(const Int8QuantArgs& a, uint8_t* flags, void* stream);
const char* launch_int8_vectorwise_dequant(const Int8VectorDequantArgs& a, void* stream);

// The 16-bit outlier product of int8_mixed_scaled_mm for a column mask, with
// no host round trip: out[M, N] = cast(out + A[:, S] @ W[:, S].T), S the masked
// columns, W = cast(float(CB) * SCB[n] * kInt8DequantScale) (the dequantized
// weight rounded to A's dtype, as the reference's subB), fp32 sums.
struct Int8OutlierMmArgs {
  const void* A;  // [M, K] row-major, `dtype`
  DType dtype;
  int64_t M, N, K;
  const int8_t* CB;     // [N, K] row-major
  const float* SCB;     // [N]
  const uint8_t* mask;  // [K], nonzero = outlier column
  int32_t* work;        // K + 1 entries: the masked columns' indices, then their count
  void* out;            // [M, N] row-major, `dtype`, updated in place
};
const char* launch_int8_outlier_mm(const Int8OutlierMmArgs& a, void* stream);
const char* launch_int8_mm_dequant(const Int8MmDequantArgs& a, void* stream);
// int8 GEMM with the int32 or the fused scaled epilogue of Int8GemmArgs (int8_gemm.cu: a GEMV kernel for
// up to 8 rows, 64 x 64 tiles otherwise; dp4a). The bindings use the vendor GEMM where it applies.
const char* launch_int8_gemm(const Int8GemmArgs& a, void* stream);

}  // namespace bnb::gpu
