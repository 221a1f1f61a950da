// Current-stream and device-guard helpers of the GPU bindings, and the check
// that turns a launcher's status into an error naming the op.
//
// On ROCm, torch calls its HIP devices "cuda" (the CUDA dispatch key and
// device type): the guard and stream that accept such a device are the
// "MasqueradingAsCUDA" ones (thin wrappers of the c10::cuda classes since
// torch's hipify v2, so they work with both generations of ROCm torch).
#pragma once

#if defined(BNB_WITH_HIP)
#include <ATen/hip/impl/HIPGuardImplMasqueradingAsCUDA.h>
#include <ATen/hip/impl/HIPStreamMasqueradingAsCUDA.h>
#else
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace bnb::gpu {

#if defined(BNB_WITH_HIP)
using DeviceGuard = c10::hip::HIPGuardMasqueradingAsCUDA;

inline void* current_stream(const at::Tensor& t) {
  return static_cast<void*>(c10::hip::getCurrentHIPStreamMasqueradingAsCUDA(t.device().index()).stream());
}
#else
using DeviceGuard = c10::cuda::CUDAGuard;

inline void* current_stream(const at::Tensor& t) {
  return static_cast<void*>(c10::cuda::getCurrentCUDAStream(t.device().index()).stream());
}
#endif

inline void check_launch(const char* op, const char* status) {
  TORCH_CHECK(status == nullptr, "bitsandbytes::", op, ": kernel launch failed: ", status ? status : "");
}

}  // namespace bnb::gpu
