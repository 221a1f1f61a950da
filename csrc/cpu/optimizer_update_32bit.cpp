// CPU binding of bitsandbytes::optimizer_update_32bit: checks, the unorm pass
// (max_unorm > 0), then the fused update in parallel over element ranges.
#include <ATen/Parallel.h>

#include "../ops.h"
#include "../optimizer_prepare.h"
#include "kernels/optimizer_update.h"

namespace bnb::ops {

void optimizer_update_32bit_cpu(std::string_view optimizer_name, const at::Tensor& g, const at::Tensor& p,
                                const at::Tensor& state1, const std::optional<at::Tensor>& state2,
                                const std::optional<at::Tensor>& unorm_vec, double max_unorm, double param_norm,
                                double beta1, double beta2, double beta3, double alpha, double eps, double weight_decay,
                                int64_t step, double lr, double gnorm_scale, bool skip_zeros) {
  const Optimizer32bitArgs a =
      prepare_optimizer_update_32bit(optimizer_name, g, p, state1, state2, unorm_vec, max_unorm, param_norm, beta1,
                                     beta2, beta3, alpha, eps, weight_decay, step, lr, gnorm_scale, skip_zeros);
  if (a.n == 0) return;
  constexpr int64_t kGrain = 16384;
  if (a.unorm_sum != nullptr) {
    const double sum = at::parallel_reduce(
        int64_t{0}, a.n, kGrain, 0.0,
        [&](int64_t begin, int64_t end, double acc) { return acc + cpu::optimizer_32bit_unorm(a, begin, end); },
        [](double x, double y) { return x + y; });
    *a.unorm_sum = static_cast<float>(sum);
  }
  at::parallel_for(0, a.n, kGrain, [&](int64_t begin, int64_t end) { cpu::optimizer_32bit(a, begin, end); });
}

}  // namespace bnb::ops
