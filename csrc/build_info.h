// What this build of the op library contains; read by `python -m bitsandbytes`
// and the LibTorch example.
#pragma once

#include <string>
#include <vector>

namespace bnb {

struct BuildInfo {
  bool cuda = false;          // built with CUDA kernels
  bool hip = false;           // built with HIP kernels
  std::string gpu_archs;      // e.g. "80,90" or "gfx90a,gfx942"
  std::string gpu_toolkit;    // CUDA / ROCm version the kernels were built with
  std::string torch_version;  // torch the library was built against
  std::string compiler;
};

const BuildInfo& build_info();

}  // namespace bnb
