// Helpers of the GPU kernel tests: the kernels run on the CPU through the HIP
// CPU runtime, on plain host memory (device pointers are host pointers there).
// (The runtime's headers stay out of the test files: they are slow to compile.)
#pragma once

#include <catch2/catch.hpp>

#include "test_util.h"

namespace bnb::test {

// The stream every test launches on: one created stream, never the null stream. (The HIP CPU
// runtime may run two kernels launched one after the other on its null stream at the same time:
// its scheduler drains the null stream from two threads. A created stream runs them in order, as
// a launcher that chains dependent kernels needs.)
void* gpu_stream();

// Waits for gpu_stream()'s kernels; false on a runtime error.
bool gpu_synchronize();

// Calls a launcher (csrc/cuda/kernels/*launchers.h) with gpu_stream() and waits for its kernels;
// a launch error fails the test with the runtime's message.
template <typename Launch>
void run_gpu(Launch&& launch) {
  const char* err = launch(gpu_stream());
  INFO("launch error: " << (err ? err : ""));
  REQUIRE(err == nullptr);
  REQUIRE(gpu_synchronize());
}

}  // namespace bnb::test
