// What the gemm_4bit kernel files share: the device helpers and the launchers
// of the fused batched kernels, which gemv_4bit.cu's launch_gemm_4bit dispatches to.
#pragma once

#include "matmul.cuh"  // first: the GPU runtime headers before common/half.h

#include "gemm_4bit_launchers.h"

namespace bnb::gpu {

const char* launch_gemm_4bit_tiled(const Gemm4bitArgs& a, void* stream);  // gemm_4bit_tiled.cu
const char* launch_gemm_4bit_mma(const Gemm4bitArgs& a, void* stream);    // gemm_4bit_mma.cu

}  // namespace bnb::gpu
