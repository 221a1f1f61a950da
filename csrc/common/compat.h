// The one place where CUDA and HIP differ in name. GPU sources include this
// instead of cuda_runtime.h / hip_runtime.h and use the gpu* names.
#pragma once

#if defined(__HIPCC__) || defined(__HIP_PLATFORM_AMD__)
#include <hip/hip_runtime.h>
#define BNB_GPU_HIP 1
using gpuStream_t = hipStream_t;
using gpuError_t = hipError_t;
#define gpuSuccess hipSuccess
#define gpuGetLastError hipGetLastError
#define gpuGetErrorString hipGetErrorString
#define gpuMemcpyAsync hipMemcpyAsync
#define gpuMemcpyHostToDevice hipMemcpyHostToDevice
#else
#include <cuda_runtime.h>
#define BNB_GPU_CUDA 1
using gpuStream_t = cudaStream_t;
using gpuError_t = cudaError_t;
#define gpuSuccess cudaSuccess
#define gpuGetLastError cudaGetLastError
#define gpuGetErrorString cudaGetErrorString
#define gpuMemcpyAsync cudaMemcpyAsync
#define gpuMemcpyHostToDevice cudaMemcpyHostToDevice
#endif

// Kernels use shared-memory reductions only (no warp shuffles), so the 32-lane
// (NVIDIA, RDNA) and 64-lane (CDNA) wavefronts need no special casing; block
// sizes are multiples of 64.
namespace bnb::gpu {
inline constexpr int kThreads = 256;

// Largest grid we launch for grid-stride loops.
inline unsigned int grid_for(int64_t work, int threads = kThreads) {
  const int64_t blocks = (work + threads - 1) / threads;
  return static_cast<unsigned int>(blocks < 1 ? 1 : (blocks > 65535 * 16 ? 65535 * 16 : blocks));
}
}  // namespace bnb::gpu
