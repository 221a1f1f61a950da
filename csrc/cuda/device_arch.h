// The compute capability of the current device, for the bindings' choice of
// kernel (e.g. tensor-core paths need sm_80, cuBLASLt int8 sm_75).
#pragma once

#if defined(USE_ROCM) || defined(__HIP_PLATFORM_AMD__)
#define BNB_DEVICE_ARCH_ROCM 1
#else
#include <cuda_runtime_api.h>
#endif

namespace bnb::gpu {

// major * 10 + minor of the current CUDA device (e.g. 90 for H100/H200); 0 on ROCm or when unknown.
inline int current_device_arch() {
#if defined(BNB_DEVICE_ARCH_ROCM)
  return 0;
#else
  static int arch[64] = {};  // per device, filled on first use (a racing second fill writes the same value)
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) return 0;
  if (arch[dev] == 0) {
    int major = 0, minor = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess)
      return 0;
    arch[dev] = major * 10 + minor;
  }
  return arch[dev];
#endif
}

}  // namespace bnb::gpu
