// AVX2 path of the CPU optimizer kernels: the loops of optimizer_update_impl.h
// compiled with AVX2 (vectorized by the compiler; same fp32 operations and order).
#include "optimizer_update_impl.h"

namespace bnb::cpu {

double optimizer_32bit_unorm_avx2(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  return unorm_dispatch(a, begin, end);
}
void optimizer_32bit_avx2(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  update_32bit_dispatch(a, begin, end);
}
void optimizer_8bit_blockwise_avx2(const Optimizer8bitArgs& a, int64_t block_begin, int64_t block_end) {
  update_8bit_dispatch(a, block_begin, block_end);
}

}  // namespace bnb::cpu
