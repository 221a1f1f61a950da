#include "build_info.h"

#include <torch/version.h>

#ifndef BNB_GPU_ARCHS
#define BNB_GPU_ARCHS ""
#endif
#ifndef BNB_GPU_TOOLKIT
#define BNB_GPU_TOOLKIT ""
#endif

namespace bnb {

const BuildInfo& build_info() {
  static const BuildInfo info = [] {
    BuildInfo i;
#if defined(BNB_WITH_CUDA)
    i.cuda = true;
#endif
#if defined(BNB_WITH_HIP)
    i.hip = true;
#endif
    i.gpu_archs = BNB_GPU_ARCHS;
    i.gpu_toolkit = BNB_GPU_TOOLKIT;
    i.torch_version = TORCH_VERSION;
#if defined(__clang__)
    i.compiler = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    i.compiler = std::string("gcc ") + __VERSION__;
#endif
    return i;
  }();
  return info;
}

}  // namespace bnb
