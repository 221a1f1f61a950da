// Torch-free host entry points of the GPU kernels (CUDA, or HIP through
// common/compat.h). Each launches on `stream` and returns nullptr on success or
// the runtime's error string. Bindings (csrc/cuda/*.cpp) call these.
#pragma once

#include "../../common/args.h"

namespace bnb::gpu {

const char* launch_quantize_4bit(const Quantize4bitArgs& a, void* stream);
const char* launch_dequantize_4bit(const Dequantize4bitArgs& a, void* stream);
// Nearest code of a sorted 256-entry code (ties to the lower index), as the
// reference GPU kernels choose.
const char* launch_quantize_blockwise(const QuantizeBlockwiseArgs& a, void* stream);
const char* launch_dequantize_blockwise(const DequantizeBlockwiseArgs& a, void* stream);

// gemv_4bit / gemm_4bit: out = A @ W.T (+ bias), every shape (a fast kernel for up to 4 batch rows with
// K % 32 == 0, a plain one otherwise). gemm_4bit_uses_gemv tells which one runs.
bool gemm_4bit_uses_gemv(const Gemm4bitArgs& a);
const char* launch_gemm_4bit(const Gemm4bitArgs& a, void* stream);
// W [N, K] in a.dtype into `w` (the scales decoded inline), for the dequantize + GEMM path.
const char* launch_dequantize_4bit_weight(const Gemm4bitArgs& a, void* w, void* stream);

}  // namespace bnb::gpu
