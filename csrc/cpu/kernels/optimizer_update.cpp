// Scalar reference path of the CPU optimizer kernels and the run-time path choice.
#include "cpu_features.h"
#include "optimizer_update_impl.h"

namespace bnb::cpu {

double optimizer_32bit_unorm_scalar(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  return unorm_dispatch(a, begin, end);
}
void optimizer_32bit_scalar(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  update_32bit_dispatch(a, begin, end);
}
void optimizer_8bit_blockwise_scalar(const Optimizer8bitArgs& a, int64_t block_begin, int64_t block_end) {
  update_8bit_dispatch(a, block_begin, block_end);
}

#if defined(BNB_HAVE_X86_KERNELS)
double optimizer_32bit_unorm(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  return select_kernel<OptimizerUnormFn>(optimizer_32bit_unorm_scalar, optimizer_32bit_unorm_avx2,
                                         optimizer_32bit_unorm_avx512)(a, begin, end);
}
void optimizer_32bit(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  select_kernel<Optimizer32bitFn>(optimizer_32bit_scalar, optimizer_32bit_avx2, optimizer_32bit_avx512)(a, begin, end);
}
void optimizer_8bit_blockwise(const Optimizer8bitArgs& a, int64_t block_begin, int64_t block_end) {
  select_kernel<Optimizer8bitFn>(optimizer_8bit_blockwise_scalar, optimizer_8bit_blockwise_avx2,
                                 optimizer_8bit_blockwise_avx512)(a, block_begin, block_end);
}
#else
double optimizer_32bit_unorm(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  return optimizer_32bit_unorm_scalar(a, begin, end);
}
void optimizer_32bit(const Optimizer32bitArgs& a, int64_t begin, int64_t end) { optimizer_32bit_scalar(a, begin, end); }
void optimizer_8bit_blockwise(const Optimizer8bitArgs& a, int64_t block_begin, int64_t block_end) {
  optimizer_8bit_blockwise_scalar(a, block_begin, block_end);
}
#endif

}  // namespace bnb::cpu
