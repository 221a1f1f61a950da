// Block-range parallelism for the CPU bindings.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>

namespace bnb::cpu {

// Runs fn(begin, end) over [0, nblocks) on torch's intra-op thread pool, in
// chunks of at least ~min_elements elements so small inputs stay on one thread.
template <typename Fn>
void parallel_over_blocks(int64_t nblocks, int64_t elements_per_block, const Fn& fn, int64_t min_elements = 32768) {
  if (nblocks <= 0) return;
  const int64_t grain = std::max<int64_t>(1, min_elements / std::max<int64_t>(1, elements_per_block));
  at::parallel_for(0, nblocks, grain, fn);
}

}  // namespace bnb::cpu
