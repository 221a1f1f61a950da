// CPU binding of bitsandbytes::optimizer_update_8bit_blockwise: checks, the
// midpoint tables of the two maps, then the fused dequantize-update-requantize
// pass in parallel over 256-element blocks.
#include "../ops.h"
#include "../optimizer_prepare.h"
#include "kernels/optimizer_update.h"
#include "parallel.h"

namespace bnb::ops {
namespace {

void midpoints_of(const char* arg, const float* code, float* mids) {
  for (int i = 0; i < 255; ++i)
    TORCH_CHECK_VALUE(code[i] <= code[i + 1], "bitsandbytes::optimizer_update_8bit_blockwise: ", arg,
                      " must be sorted ascending, but entry ", i, " (", code[i], ") > entry ", i + 1, " (", code[i + 1],
                      ")");
  code_midpoints(code, mids);
}

}  // namespace

void optimizer_update_8bit_blockwise_cpu(std::string_view optimizer_name, const at::Tensor& g, const at::Tensor& p,
                                         const at::Tensor& state1, const std::optional<at::Tensor>& state2,
                                         double beta1, double beta2, double beta3, double alpha, double eps,
                                         int64_t step, double lr, const at::Tensor& qmap1,
                                         const std::optional<at::Tensor>& qmap2, const at::Tensor& absmax1,
                                         const std::optional<at::Tensor>& absmax2, double weight_decay,
                                         double gnorm_scale, bool skip_zeros) {
  PreparedOptimizer8bit pr;
  prepare_optimizer_update_8bit_blockwise(pr, optimizer_name, g, p, state1, state2, beta1, beta2, beta3, alpha, eps,
                                          step, lr, qmap1, qmap2, absmax1, absmax2, weight_decay, gnorm_scale,
                                          skip_zeros);
  Optimizer8bitArgs& a = pr.args;
  midpoints_of("qmap1", a.qmap1, pr.mids1.data());
  a.mids1 = pr.mids1.data();
  a.zero1 = signed_zero_index(a.qmap1);
  if (a.qmap2 != nullptr) {
    midpoints_of("qmap2", a.qmap2, pr.mids2.data());
    a.mids2 = pr.mids2.data();
  }
  if (a.n == 0) return;
  cpu::parallel_over_blocks(num_blocks(a.n, kOptimizerBlocksize), kOptimizerBlocksize,
                            [&](int64_t begin, int64_t end) { cpu::optimizer_8bit_blockwise(a, begin, end); });
}

}  // namespace bnb::ops
