// Argument checks and kernel arguments of the two optimizer ops, shared by the
// CPU and GPU bindings (optimizer_update_32bit, optimizer_update_8bit_blockwise).
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>

#include "checks.h"
#include "common/optimizer.h"

namespace bnb {

inline OptimizerKind parse_optimizer(const char* op, std::string_view name) {
  OptimizerKind k;
  TORCH_CHECK_VALUE(parse_optimizer_name(std::string(name).c_str(), &k), "bitsandbytes::", op,
                    ": optimizer_name must be one of 'adam', 'momentum', 'rmsprop', 'adagrad', 'lion', 'ademamix', "
                    "'lamb', 'lars'; got '",
                    std::string(name), "'");
  return k;
}

// g and p: same device, same float dtype, same element count, dense and contiguous.
inline DType check_grad_param(const char* op, const at::Tensor& g, const at::Tensor& p) {
  TORCH_CHECK_TYPE(g.layout() == at::kStrided, "bitsandbytes::", op,
                   ": sparse gradients are not supported (g has layout ", g.layout(), ")");
  TORCH_CHECK_TYPE(p.layout() == at::kStrided, "bitsandbytes::", op, ": p must be a dense tensor, got layout ",
                   p.layout());
  const DType dt = to_dtype(op, "p", p.scalar_type());
  TORCH_CHECK_TYPE(g.scalar_type() == p.scalar_type(), "bitsandbytes::", op, ": g is ", dtype_name(g.scalar_type()),
                   " but p is ", dtype_name(p.scalar_type()), "; they must have the same dtype");
  check_same_device(op, "g", g, p);
  TORCH_CHECK_VALUE(g.numel() == p.numel(), "bitsandbytes::", op, ": g has ", g.numel(), " elements but p has ",
                    p.numel());
  TORCH_CHECK(p.is_contiguous() && g.is_contiguous(), "bitsandbytes::", op,
              ": p and g must be contiguous (the optimizer calls .contiguous() on them)");
  return dt;
}

inline void check_state(const char* op, const char* arg, const at::Tensor& s, at::ScalarType dtype, int64_t numel,
                        const at::Tensor& p) {
  check_dtype(op, arg, s, dtype);
  check_same_device(op, arg, s, p);
  TORCH_CHECK_VALUE(s.numel() == numel, "bitsandbytes::", op, ": ", arg, " has ", s.numel(), " elements (shape ",
                    s.sizes(), ") but the parameter of ", p.numel(), " elements needs ", numel,
                    " (optimizer state of another parameter?)");
  TORCH_CHECK(s.is_contiguous(), "bitsandbytes::", op, ": ", arg, " must be contiguous");
}

inline const at::Tensor& require(const char* op, const char* arg, const std::optional<at::Tensor>& t,
                                 std::string_view name) {
  TORCH_CHECK_VALUE(t.has_value() && t->defined(), "bitsandbytes::", op, ": ", arg, " is required by optimizer '",
                    std::string(name), "' (a two-state algorithm)");
  return *t;
}

inline OptimizerHyper make_hyper(const char* op, double beta1, double beta2, double beta3, double alpha, double eps,
                                 double weight_decay, int64_t step, double lr, double gnorm_scale, bool skip_zeros) {
  TORCH_CHECK_VALUE(step >= 1, "bitsandbytes::", op, ": step must be >= 1 (it counts from 1), got ", step);
  OptimizerHyper h{};
  h.beta1 = static_cast<float>(beta1);
  h.beta2 = static_cast<float>(beta2);
  h.beta3 = static_cast<float>(beta3);
  h.alpha = static_cast<float>(alpha);
  h.eps = static_cast<float>(eps);
  h.weight_decay = static_cast<float>(weight_decay);
  h.lr = static_cast<float>(lr);
  h.gnorm_scale = static_cast<float>(gnorm_scale);
  h.bias1 = static_cast<float>(1.0 - std::pow(beta1, static_cast<double>(step)));
  h.bias2 = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, static_cast<double>(step))));
  h.step = step;
  h.skip_zeros = skip_zeros;
  return h;
}

inline Optimizer32bitArgs prepare_optimizer_update_32bit(std::string_view optimizer_name, const at::Tensor& g,
                                                         const at::Tensor& p, const at::Tensor& state1,
                                                         const std::optional<at::Tensor>& state2,
                                                         const std::optional<at::Tensor>& unorm_vec, double max_unorm,
                                                         double param_norm, double beta1, double beta2, double beta3,
                                                         double alpha, double eps, double weight_decay, int64_t step,
                                                         double lr, double gnorm_scale, bool skip_zeros) {
  constexpr const char* op = "optimizer_update_32bit";
  const OptimizerKind k = parse_optimizer(op, optimizer_name);
  Optimizer32bitArgs a{};
  a.kind = k;
  a.dtype = check_grad_param(op, g, p);
  a.n = p.numel();
  check_state(op, "state1", state1, at::kFloat, k == OptimizerKind::kAdEMAMix ? 2 * a.n : a.n, p);
  a.g = g.data_ptr();
  a.p = p.data_ptr();
  a.state1 = state1.data_ptr<float>();
  if (has_state2(k)) {
    const at::Tensor& s2 = require(op, "state2", state2, optimizer_name);
    check_state(op, "state2", s2, at::kFloat, a.n, p);
    a.state2 = s2.data_ptr<float>();
  }
  a.h = make_hyper(op, beta1, beta2, beta3, alpha, eps, weight_decay, step, lr, gnorm_scale, skip_zeros);
  a.max_unorm = static_cast<float>(max_unorm);
  a.param_norm = static_cast<float>(param_norm);
  if (max_unorm > 0.0) {
    TORCH_CHECK_VALUE(unorm_vec.has_value() && unorm_vec->defined(), "bitsandbytes::", op,
                      ": max_unorm > 0 needs unorm_vec (a float32 tensor of 1 element)");
    check_dtype(op, "unorm_vec", *unorm_vec, at::kFloat);
    check_same_device(op, "unorm_vec", *unorm_vec, p);
    TORCH_CHECK_VALUE(unorm_vec->numel() >= 1, "bitsandbytes::", op, ": unorm_vec is empty");
    a.unorm_sum = unorm_vec->data_ptr<float>();
  }
  return a;
}

// Midpoint tables of the two maps, owned by the binding while the kernel runs.
struct PreparedOptimizer8bit {
  Optimizer8bitArgs args;
  std::array<float, 256> mids1{}, mids2{};
  at::Tensor qmap1, qmap2;  // contiguous (CPU: read on the host)
};

inline void check_qmap(const char* op, const char* arg, const at::Tensor& q, const at::Tensor& p) {
  check_dtype(op, arg, q, at::kFloat);
  check_same_device(op, arg, q, p);
  TORCH_CHECK_VALUE(q.numel() == 256, "bitsandbytes::", op, ": ", arg, " must have 256 entries, got ", q.numel());
}

inline void check_absmax_state(const char* op, const char* arg, const at::Tensor& t, int64_t numel,
                               const at::Tensor& p) {
  check_dtype(op, arg, t, at::kFloat);
  check_same_device(op, arg, t, p);
  TORCH_CHECK_VALUE(t.numel() == numel, "bitsandbytes::", op, ": ", arg, " has ", t.numel(), " entries but ", p.numel(),
                    " elements in blocks of ", kOptimizerBlocksize, " need ", numel);
  TORCH_CHECK(t.is_contiguous(), "bitsandbytes::", op, ": ", arg, " must be contiguous");
}

// Fills everything but mids1/mids2/zero1 (which need the maps' values: the CPU
// binding computes them on the host, the GPU kernels on the device).
inline void prepare_optimizer_update_8bit_blockwise(PreparedOptimizer8bit& pr, std::string_view optimizer_name,
                                                    const at::Tensor& g, const at::Tensor& p, const at::Tensor& state1,
                                                    const std::optional<at::Tensor>& state2, double beta1, double beta2,
                                                    double beta3, double alpha, double eps, int64_t step, double lr,
                                                    const at::Tensor& qmap1, const std::optional<at::Tensor>& qmap2,
                                                    const at::Tensor& absmax1, const std::optional<at::Tensor>& absmax2,
                                                    double weight_decay, double gnorm_scale, bool skip_zeros) {
  constexpr const char* op = "optimizer_update_8bit_blockwise";
  const OptimizerKind k = parse_optimizer(op, optimizer_name);
  Optimizer8bitArgs& a = pr.args;
  a = Optimizer8bitArgs{};
  a.kind = k;
  a.dtype = check_grad_param(op, g, p);
  a.n = p.numel();
  const int64_t copies = k == OptimizerKind::kAdEMAMix ? 2 : 1;
  const int64_t nb = num_blocks(a.n, kOptimizerBlocksize);
  check_state(op, "state1", state1, at::kByte, copies * a.n, p);
  check_qmap(op, "qmap1", qmap1, p);
  check_absmax_state(op, "absmax1", absmax1, copies * nb, p);
  pr.qmap1 = qmap1.contiguous();
  a.g = g.data_ptr();
  a.p = p.data_ptr();
  a.state1 = state1.data_ptr<uint8_t>();
  a.qmap1 = pr.qmap1.data_ptr<float>();
  a.absmax1 = absmax1.data_ptr<float>();
  a.zero1 = -1;
  if (has_state2(k)) {
    const at::Tensor& s2 = require(op, "state2", state2, optimizer_name);
    const at::Tensor& q2 = require(op, "qmap2", qmap2, optimizer_name);
    const at::Tensor& m2 = require(op, "absmax2", absmax2, optimizer_name);
    check_state(op, "state2", s2, at::kByte, a.n, p);
    check_qmap(op, "qmap2", q2, p);
    check_absmax_state(op, "absmax2", m2, nb, p);
    pr.qmap2 = q2.contiguous();
    a.state2 = s2.data_ptr<uint8_t>();
    a.qmap2 = pr.qmap2.data_ptr<float>();
    a.absmax2 = m2.data_ptr<float>();
  }
  a.h = make_hyper(op, beta1, beta2, beta3, alpha, eps, weight_decay, step, lr, gnorm_scale, skip_zeros);
}

}  // namespace bnb
