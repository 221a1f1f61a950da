// The one place where CUDA, HIP and the HIP CPU runtime differ in name. GPU
// sources include this instead of cuda_runtime.h / hip_runtime.h, use the gpu*
// names and launch kernels with bnb::gpu::launch.
//
//  - CUDA (nvcc): cuda_runtime.h, <<<>>> launches, 32-lane warps.
//  - HIP (hipcc): hip_runtime.h, <<<>>> launches, 64-lane (CDNA) or 32-lane (RDNA) wavefronts.
//  - HIP CPU runtime (BNB_HIP_CPU, tests only): the .cu files compiled unchanged
//    as C++ by the host compiler against AMD's header-only HIP-CPU; kernels run
//    on CPU threads (fibers for GPU threads, 64-lane wavefronts), launched with
//    hipLaunchKernelGGL. No tensor cores, no __dp4a, no CUB.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#if defined(BNB_HIP_CPU) || defined(__HIPCC__) || defined(__HIP_PLATFORM_AMD__)
#include <hip/hip_runtime.h>
#define BNB_GPU_HIP 1
#if defined(__HIP_CPU_RT__)
#define BNB_GPU_HIP_CPU 1
// HIP-CPU marks kernels and device functions with GCC's `simd` attribute, which
// only adds vector clones (and warns, with no flag to silence it, for struct
// arguments); the kernels stay flattened into one function each.
#undef __global__
#define __global__ __attribute__((flatten))
#undef __device__
#define __device__
#endif
using gpuStream_t = hipStream_t;
using gpuError_t = hipError_t;
#define gpuSuccess hipSuccess
#define gpuGetLastError hipGetLastError
#define gpuGetErrorString hipGetErrorString
#define gpuMemcpyAsync hipMemcpyAsync
#define gpuMemcpyHostToDevice hipMemcpyHostToDevice
#define gpuMemsetAsync hipMemsetAsync
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
#define gpuMemsetAsync cudaMemsetAsync
#endif

namespace bnb::gpu {
inline constexpr int kThreads = 256;

// Largest grid we launch for grid-stride loops.
inline unsigned int grid_for(int64_t work, int threads = kThreads) {
  const int64_t blocks = (work + threads - 1) / threads;
  return static_cast<unsigned int>(blocks < 1 ? 1 : (blocks > 65535 * 16 ? 65535 * 16 : blocks));
}

// Every kernel launch goes through here: kernel<<<grid, block, smem, stream>>>(args...)
// on CUDA and HIP, hipLaunchKernelGGL on the HIP CPU runtime (which has no <<<>>>).
template <typename... Params, typename... Args>
inline void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, gpuStream_t stream, Args&&... args) {
#if defined(BNB_GPU_HIP_CPU)
  hipLaunchKernelGGL(kernel, grid, block, static_cast<std::uint32_t>(smem), stream, std::forward<Args>(args)...);
#else
  // (clang-format splits >>> outside .cu files)
  // clang-format off
  kernel<<<grid, block, smem, stream>>>(std::forward<Args>(args)...);
  // clang-format on
#endif
}
}  // namespace bnb::gpu
