// CUDA/HIP bindings of bitsandbytes::int8_vectorwise_quant, int8_double_quant and
// int8_vectorwise_dequant.
#include "../ops.h"
#include "../prepare_int8.h"
#include "kernels/int8_launchers.h"
#include "stream.h"

namespace bnb::ops {
namespace {

void run_quant(const char* op, PreparedInt8Quant& p, const at::Tensor& A) {
  void* stream = gpu::current_stream(A);
  if (p.flags.defined()) {
    gpu::check_launch(op, gpu::launch_int8_find_outlier_cols(p.args, p.flags.data_ptr<uint8_t>(), stream));
    p.args.outlier_cols = p.flags.data_ptr<uint8_t>();
  }
  gpu::check_launch(op, gpu::launch_int8_quant(p.args, stream));
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, std::optional<at::Tensor>> int8_vectorwise_quant_cuda(const at::Tensor& A,
                                                                                         double threshold) {
  const bnb::gpu::DeviceGuard guard(A.device());
  PreparedInt8Quant p = prepare_int8_quant("int8_vectorwise_quant", A, threshold, false);
  run_quant("int8_vectorwise_quant", p, A);
  return {p.row_q, p.row_stats, outlier_cols_of(p)};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, std::optional<at::Tensor>> int8_double_quant_cuda(
    const at::Tensor& A, double threshold) {
  const bnb::gpu::DeviceGuard guard(A.device());
  PreparedInt8Quant p = prepare_int8_quant("int8_double_quant", A, threshold, true);
  run_quant("int8_double_quant", p, A);
  return {p.row_q, p.col_q, p.row_stats, p.col_stats, outlier_cols_of(p)};
}

at::Tensor int8_vectorwise_dequant_cuda(const at::Tensor& A, const at::Tensor& stats) {
  const bnb::gpu::DeviceGuard guard(A.device());
  const PreparedInt8Dequant p = prepare_int8_vectorwise_dequant(A, stats);
  gpu::check_launch("int8_vectorwise_dequant", gpu::launch_int8_vectorwise_dequant(p.args, gpu::current_stream(A)));
  return p.out;
}

}  // namespace bnb::ops
