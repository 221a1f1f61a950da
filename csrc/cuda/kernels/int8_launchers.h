// Torch-free host entry points of the LLM.int8() GPU kernels (see launchers.h
// for the conventions: launch on `stream`, return nullptr or the error string).
#pragma once

#include <cstdint>

#include "../../common/args.h"

namespace bnb::gpu {

// flags[c] = 1 when some row has |x[r, c]| >= a.threshold.
const char* launch_int8_find_outlier_cols(const Int8QuantArgs& a, uint8_t* flags, void* stream);
// Row pass (and, when a.col_q is set, the column pass of double quant). a.outlier_cols may be null.
const char* launch_int8_quant(const Int8QuantArgs& a, void* stream);
const char* launch_int8_vectorwise_dequant(const Int8VectorDequantArgs& a, void* stream);
const char* launch_int8_mm_dequant(const Int8MmDequantArgs& a, void* stream);
// int8 GEMM with the int32 or the fused scaled epilogue of Int8GemmArgs (int8_gemm.cu: a GEMV kernel for
// up to 8 rows, 64 x 64 tiles otherwise; dp4a). The bindings use the vendor GEMM where it applies.
const char* launch_int8_gemm(const Int8GemmArgs& a, void* stream);

}  // namespace bnb::gpu
