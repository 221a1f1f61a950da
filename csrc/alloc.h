// Output allocation for the bindings. On the CPU, large outputs are written
// once, front to back, right after allocation, so their page faults dominate an
// op's time; asking for transparent huge pages before the first touch cuts the
// faults 512x. Other devices get a plain at::empty.
#pragma once

#include <ATen/ATen.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace bnb {

inline at::Tensor empty_output(c10::IntArrayRef shape, const at::TensorOptions& options) {
  at::Tensor t = at::empty(shape, options);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (!t.device().is_cpu()) return t;
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(t.data_ptr());
  const uintptr_t end = begin + static_cast<uintptr_t>(t.nbytes());
  const uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t last = end & ~(kHuge - 1);
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);  // advisory: errors ignored
#endif
  return t;
}

}  // namespace bnb
