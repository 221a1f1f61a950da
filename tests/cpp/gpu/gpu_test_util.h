// Helpers of the GPU kernel tests: the kernels run on the CPU through the HIP
// CPU runtime, on plain host memory (device pointers are host pointers there).
#pragma once

#include <catch2/catch.hpp>

#include "common/compat.h"
#include "test_util.h"

namespace bnb::test {

// Calls a launcher (csrc/cuda/kernels/*launchers.h) on the null stream and
// waits for its kernels; a launch error fails the test with the runtime's message.
template <typename Launch>
void run_gpu(Launch&& launch) {
  const char* err = launch();
  INFO("launch error: " << (err ? err : ""));
  REQUIRE(err == nullptr);
  REQUIRE(hipDeviceSynchronize() == hipSuccess);
}

}  // namespace bnb::test
