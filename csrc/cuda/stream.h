// Current-stream and device-guard helpers of the GPU bindings, and the check
// that turns a launcher's status into an error naming the op.
#pragma once

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

namespace bnb::gpu {

inline void* current_stream(const at::Tensor& t) {
  return static_cast<void*>(c10::cuda::getCurrentCUDAStream(t.device().index()).stream());
}

inline void check_launch(const char* op, const char* status) {
  TORCH_CHECK(status == nullptr, "bitsandbytes::", op, ": kernel launch failed: ", status ? status : "");
}

}  // namespace bnb::gpu
