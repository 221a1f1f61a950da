// CUDA/HIP bindings of bitsandbytes::int8_linear_matmul (and .out), int8_mm_dequant,
// int8_scaled_mm (rescale fused into the GEMM) and int8_mixed_scaled_mm.
#include "../int8_mixed.h"
#include "../ops.h"
#include "../prepare_int8.h"
#include "kernels/int8_launchers.h"
#include "stream.h"

namespace bnb::ops {

at::Tensor int8_linear_matmul_cuda(const at::Tensor& A, const at::Tensor& B) {
  const c10::cuda::CUDAGuard guard(A.device());
  const PreparedInt8Gemm p =
      prepare_int8_gemm("int8_linear_matmul", A, B, false, nullptr, nullptr, nullptr, std::nullopt, std::nullopt);
  gpu::check_launch("int8_linear_matmul", gpu::launch_int8_gemm(p.args, gpu::current_stream(A)));
  return p.out;
}

void int8_linear_matmul_out_cuda(const at::Tensor& A, const at::Tensor& B, const at::Tensor& out) {
  const c10::cuda::CUDAGuard guard(A.device());
  const PreparedInt8Gemm p =
      prepare_int8_gemm("int8_linear_matmul", A, B, false, &out, nullptr, nullptr, std::nullopt, std::nullopt);
  gpu::check_launch("int8_linear_matmul", gpu::launch_int8_gemm(p.args, gpu::current_stream(A)));
}

at::Tensor int8_mm_dequant_cuda(const at::Tensor& A, const at::Tensor& row_stats, const at::Tensor& col_stats,
                                std::optional<at::ScalarType> dtype, const std::optional<at::Tensor>& bias) {
  const c10::cuda::CUDAGuard guard(A.device());
  const PreparedInt8MmDequant p = prepare_int8_mm_dequant(A, row_stats, col_stats, dtype, bias);
  gpu::check_launch("int8_mm_dequant", gpu::launch_int8_mm_dequant(p.args, gpu::current_stream(A)));
  return p.out;
}

at::Tensor int8_scaled_mm_cuda(const at::Tensor& A, const at::Tensor& B, const at::Tensor& row_stats,
                               const at::Tensor& col_stats, const std::optional<at::Tensor>& bias,
                               std::optional<at::ScalarType> dtype) {
  const c10::cuda::CUDAGuard guard(A.device());
  const PreparedInt8Gemm p =
      prepare_int8_gemm("int8_scaled_mm", A, B, true, nullptr, &row_stats, &col_stats, bias, dtype);
  gpu::check_launch("int8_scaled_mm", gpu::launch_int8_gemm(p.args, gpu::current_stream(A)));
  return p.out;
}

std::tuple<at::Tensor, std::optional<at::Tensor>> int8_mixed_scaled_mm_cuda(
    const at::Tensor& A, const at::Tensor& CA, const at::Tensor& CB, const at::Tensor& SCA, const at::Tensor& SCB,
    const std::optional<at::Tensor>& outlier_cols, const std::optional<at::Tensor>& bias) {
  const c10::cuda::CUDAGuard guard(A.device());
  return int8_mixed_scaled_mm_common(A, CA, CB, SCA, SCB, outlier_cols, bias, &int8_outlier_mm_cuda);
}

}  // namespace bnb::ops
