// Stand-in for the header a CUDA build of torch generates, so the GPU bindings
// can be compile-checked against a CPU build of torch (BNB_CUDA=COMPILE_ONLY).
// Never used for a real CUDA build.
#pragma once
#define C10_CUDA_BUILD_SHARED_LIBS
