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

// gemv_4bit / gemm_4bit: gemm_4bit_launchers.h.

}  // namespace bnb::gpu
