// Helpers of the GPU kernel tests: the kernels run on the CPU through the HIP
// CPU runtime, on plain host memory (device pointers are host pointers there).
// (The runtime's headers stay out of the test files: they are slow to compile.)
#pragma once

#include <catch2/catch.hpp>

#include "test_util.h"

namespace bnb::test {

// Waits for every launched kernel; false on a runtime error.
bool gpu_synchronize();

// Calls a launcher (csrc/cuda/kernels/*launchers.h) on the null stream and
// waits for its kernels; a launch error fails the test with the runtime's message.
template <typename Launch>
void run_gpu(Launch&& launch) {
  const char* err = launch();
  INFO("launch error: " << (err ? err : ""));
  REQUIRE(err == nullptr);
  REQUIRE(gpu_synchronize());
}

}  // namespace bnb::test
