// CUDA/HIP bindings of bitsandbytes::optimizer_update_32bit and
// optimizer_update_8bit_blockwise: checks (shared with the CPU), then the
// launch on the current stream. Paged states are CUDA tensors over managed memory.
#include "../ops.h"
#include "../optimizer_prepare.h"
#include "kernels/optimizer_launchers.h"
#include "stream.h"

namespace bnb::ops {

void optimizer_update_32bit_cuda(std::string_view optimizer_name, const at::Tensor& g, const at::Tensor& p,
                                 const at::Tensor& state1, const std::optional<at::Tensor>& state2,
                                 const std::optional<at::Tensor>& unorm_vec, double max_unorm, double param_norm,
                                 double beta1, double beta2, double beta3, double alpha, double eps,
                                 double weight_decay, int64_t step, double lr, double gnorm_scale, bool skip_zeros) {
  const bnb::gpu::DeviceGuard guard(p.device());
  const Optimizer32bitArgs a =
      prepare_optimizer_update_32bit(optimizer_name, g, p, state1, state2, unorm_vec, max_unorm, param_norm, beta1,
                                     beta2, beta3, alpha, eps, weight_decay, step, lr, gnorm_scale, skip_zeros);
  gpu::check_launch("optimizer_update_32bit", gpu::launch_optimizer_update_32bit(a, gpu::current_stream(p)));
}

void optimizer_update_8bit_blockwise_cuda(std::string_view optimizer_name, const at::Tensor& g, const at::Tensor& p,
                                          const at::Tensor& state1, const std::optional<at::Tensor>& state2,
                                          double beta1, double beta2, double beta3, double alpha, double eps,
                                          int64_t step, double lr, const at::Tensor& qmap1,
                                          const std::optional<at::Tensor>& qmap2, const at::Tensor& absmax1,
                                          const std::optional<at::Tensor>& absmax2, double weight_decay,
                                          double gnorm_scale, bool skip_zeros) {
  const bnb::gpu::DeviceGuard guard(p.device());
  PreparedOptimizer8bit pr;
  prepare_optimizer_update_8bit_blockwise(pr, optimizer_name, g, p, state1, state2, beta1, beta2, beta3, alpha, eps,
                                          step, lr, qmap1, qmap2, absmax1, absmax2, weight_decay, gnorm_scale,
                                          skip_zeros);
  gpu::check_launch("optimizer_update_8bit_blockwise",
                    gpu::launch_optimizer_update_8bit_blockwise(pr.args, gpu::current_stream(p)));
}

}  // namespace bnb::ops
