// Torch-free host entry points of the GPU optimizer kernels (CUDA, or HIP
// through common/compat.h). Each launches on `stream` and returns nullptr on
// success or the runtime's error string.
#pragma once

#include "../../common/optimizer.h"

namespace bnb::gpu {

// 32-bit states: with a.unorm_sum set, a first pass writes sum(u^2) there and the
// update reads it (the trust ratio); everything stays on the device.
const char* launch_optimizer_update_32bit(const Optimizer32bitArgs& a, void* stream);
// 8-bit blockwise states: persistent 64-thread blocks, one 256-element block
// per step; the maps' midpoints and the signed map's zero are computed in
// shared memory once per thread block (a.mids* and a.zero1 are ignored).
const char* launch_optimizer_update_8bit_blockwise(const Optimizer8bitArgs& a, void* stream);

}  // namespace bnb::gpu
