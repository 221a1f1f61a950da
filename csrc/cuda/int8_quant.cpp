// CUDA/HIP bindings of bitsandbytes::int8_vectorwise_quant, int8_double_quant and
// int8_vectorwise_dequant.
#include "../ops.h"
#include "../prepare_int8.h"
#include "kernels/int8_launchers.h"
#include "stream.h"

namespace bnb::ops {
namespace {

void run_quant(const char* op, PreparedInt8Quant& p, const at::Tensor& A) {
  uint8_t* flags = p.flags.defined() ? p.flags.data_ptr<uint8_t>() : nullptr;
  gpu::check_launch(op, gpu::launch_int8_quant(p.args, flags, gpu::current_stream(A)));
}

std::tuple<at::Tensor, at::Tensor, std::optional<at::Tensor>> vectorwise_quant(const at::Tensor& A, double threshold,
                                                                               bool as_mask) {
  const bnb::gpu::DeviceGuard guard(A.device());
  PreparedInt8Quant p = prepare_int8_quant("int8_vectorwise_quant", A, threshold, false);
  run_quant("int8_vectorwise_quant", p, A);
  return {p.row_q, p.row_stats, outlier_cols_of(p, as_mask)};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, std::optional<at::Tensor>> double_quant(const at::Tensor& A,
                                                                                                   double threshold,
                                                                                                   bool as_mask) {
  const bnb::gpu::DeviceGuard guard(A.device());
  PreparedInt8Quant p = prepare_int8_quant("int8_double_quant", A, threshold, true);
  run_quant("int8_double_quant", p, A);
  return {p.row_q, p.col_q, p.row_stats, p.col_stats, outlier_cols_of(p, as_mask)};
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, std::optional<at::Tensor>> int8_vectorwise_quant_cuda(const at::Tensor& A,
                                                                                         double threshold) {
  return vectorwise_quant(A, threshold, false);
}
std::tuple<at::Tensor, at::Tensor, std::optional<at::Tensor>> int8_vectorwise_quant_mask_cuda(const at::Tensor& A,
                                                                                              double threshold) {
  return vectorwise_quant(A, threshold, true);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, std::optional<at::Tensor>> int8_double_quant_cuda(
    const at::Tensor& A, double threshold) {
  return double_quant(A, threshold, false);
}
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, std::optional<at::Tensor>> int8_double_quant_mask_cuda(
    const at::Tensor& A, double threshold) {
  return double_quant(A, threshold, true);
}

void int8_outlier_mm_cuda(const at::Tensor& A2, const at::Tensor& CB, const at::Tensor& SCB, const at::Tensor& mask,
                          const at::Tensor& out2d) {
  const at::Tensor a = A2.contiguous(), cb = CB.contiguous(), scb = SCB.contiguous(), m = mask.contiguous();
  TORCH_CHECK(out2d.is_contiguous() && out2d.scalar_type() == a.scalar_type(),
              "bitsandbytes::int8_mixed_scaled_mm: internal error, the output must be contiguous in A's dtype");
  const int64_t K = a.size(1);
  // compacted mask (column indices, then their count), written and read on the device
  const at::Tensor work = at::empty({K + 1}, a.options().dtype(at::kInt));
  const gpu::Int8OutlierMmArgs args{a.data_ptr(),
                                    to_dtype("int8_mixed_scaled_mm", "A", a.scalar_type()),
                                    a.size(0),
                                    cb.size(0),
                                    K,
                                    cb.data_ptr<int8_t>(),
                                    scb.data_ptr<float>(),
                                    reinterpret_cast<const uint8_t*>(m.data_ptr<bool>()),
                                    work.data_ptr<int32_t>(),
                                    out2d.data_ptr()};
  gpu::check_launch("int8_mixed_scaled_mm", gpu::launch_int8_outlier_mm(args, gpu::current_stream(A2)));
}

at::Tensor int8_vectorwise_dequant_cuda(const at::Tensor& A, const at::Tensor& stats) {
  const bnb::gpu::DeviceGuard guard(A.device());
  const PreparedInt8Dequant p = prepare_int8_vectorwise_dequant(A, stats);
  gpu::check_launch("int8_vectorwise_dequant", gpu::launch_int8_vectorwise_dequant(p.args, gpu::current_stream(A)));
  return p.out;
}

}  // namespace bnb::ops
