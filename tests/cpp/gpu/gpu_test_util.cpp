#include "gpu_test_util.h"

#include "common/compat.h"

namespace bnb::test {

void* gpu_stream() {
  static const hipStream_t stream = [] {
    hipStream_t s = nullptr;
    return hipStreamCreate(&s) == hipSuccess ? s : nullptr;
  }();
  return stream;
}

bool gpu_synchronize() {
  return gpu_stream() != nullptr && hipStreamSynchronize(static_cast<hipStream_t>(gpu_stream())) == hipSuccess;
}

}  // namespace bnb::test
