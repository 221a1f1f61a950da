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
const char* launch_int8_mm_dequant(const Int8MmDequantArgs& a, void* stream);
// Tiled int8 GEMM (dp4a) with the int32 or the fused scaled epilogue of Int8GemmArgs.
const char* launch_int8_gemm(const Int8GemmArgs& a, void* stream);

}  // namespace bnb::gpu
