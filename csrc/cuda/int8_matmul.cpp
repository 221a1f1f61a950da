// CUDA/HIP bindings of bitsandbytes::int8_linear_matmul (and .out), int8_mm_dequant,
// int8_scaled_mm and int8_mixed_scaled_mm.
//
// The int8 GEMM runs on the vendor library's int8 tensor-core GEMM (cuBLASLt on
// CUDA, hipBLASLt on ROCm, through torch's _int_mm) for the shapes it takes: more
// than 16 rows, K and N multiples of 8 (and sm_75+ on CUDA). int8_scaled_mm then
// applies the row/column rescale and bias in one elementwise pass over the int32
// product (the int8_mm_dequant kernel). Every other shape (decode batches of up
// to 16 rows above all) runs on this package's kernels (kernels/int8_gemm.cu),
// which fuse the rescale. BNB_CUDA_INT8_VENDOR=0 keeps the vendor GEMM off.
#include <ATen/ATen.h>

#include <cstdlib>
#include <cstring>

#include "../int8_mixed.h"
#include "../ops.h"
#include "../prepare_int8.h"
#include "device_arch.h"
#include "kernels/int8_launchers.h"
#include "stream.h"

namespace bnb::ops {
namespace {

bool vendor_int8_gemm(const Int8GemmArgs& a) {
  if (a.M <= 16 || a.K == 0 || a.K % 8 != 0 || a.N % 8 != 0) return false;  // at::_int_mm's constraints
  const char* env = std::getenv("BNB_CUDA_INT8_VENDOR");
  if (env != nullptr && std::strcmp(env, "0") == 0) return false;
  const int arch = gpu::current_device_arch();
  return arch == 0 || arch >= 75;  // 0: ROCm
}

void run_int8_gemm(const char* op, const PreparedInt8Gemm& p) {
  const Int8GemmArgs& a = p.args;
  if (a.M == 0 || a.N == 0) return;
  void* stream = gpu::current_stream(p.A);
  if (!vendor_int8_gemm(a)) {
    gpu::check_launch(op, gpu::launch_int8_gemm(a, stream));
    return;
  }
  const at::Tensor A2d = p.A.view({a.M, a.K}), Bt = p.B.t();
  if (a.out_i32 != nullptr) {
    at::Tensor out2d = p.out.view({a.M, a.N});
    at::_int_mm_out(out2d, A2d, Bt);
    return;
  }
  const at::Tensor c = at::_int_mm(A2d, Bt);
  const Int8MmDequantArgs d{.in = c.data_ptr<int32_t>(),
                            .rows = a.M,
                            .cols = a.N,
                            .row_stats = a.row_stats,
                            .col_stats = a.col_stats,
                            .bias = a.bias,
                            .out = a.out,
                            .dtype = a.dtype};
  gpu::check_launch(op, gpu::launch_int8_mm_dequant(d, stream));
}

}  // namespace

at::Tensor int8_linear_matmul_cuda(const at::Tensor& A, const at::Tensor& B) {
  const bnb::gpu::DeviceGuard guard(A.device());
  const PreparedInt8Gemm p =
      prepare_int8_gemm("int8_linear_matmul", A, B, false, nullptr, nullptr, nullptr, std::nullopt, std::nullopt);
  run_int8_gemm("int8_linear_matmul", p);
  return p.out;
}

void int8_linear_matmul_out_cuda(const at::Tensor& A, const at::Tensor& B, const at::Tensor& out) {
  const bnb::gpu::DeviceGuard guard(A.device());
  const PreparedInt8Gemm p =
      prepare_int8_gemm("int8_linear_matmul", A, B, false, &out, nullptr, nullptr, std::nullopt, std::nullopt);
  run_int8_gemm("int8_linear_matmul", p);
}

at::Tensor int8_mm_dequant_cuda(const at::Tensor& A, const at::Tensor& row_stats, const at::Tensor& col_stats,
                                std::optional<at::ScalarType> dtype, const std::optional<at::Tensor>& bias) {
  const bnb::gpu::DeviceGuard guard(A.device());
  const PreparedInt8MmDequant p = prepare_int8_mm_dequant(A, row_stats, col_stats, dtype, bias);
  gpu::check_launch("int8_mm_dequant", gpu::launch_int8_mm_dequant(p.args, gpu::current_stream(A)));
  return p.out;
}

at::Tensor int8_scaled_mm_cuda(const at::Tensor& A, const at::Tensor& B, const at::Tensor& row_stats,
                               const at::Tensor& col_stats, const std::optional<at::Tensor>& bias,
                               std::optional<at::ScalarType> dtype) {
  const bnb::gpu::DeviceGuard guard(A.device());
  const PreparedInt8Gemm p =
      prepare_int8_gemm("int8_scaled_mm", A, B, true, nullptr, &row_stats, &col_stats, bias, dtype);
  run_int8_gemm("int8_scaled_mm", p);
  return p.out;
}

std::tuple<at::Tensor, std::optional<at::Tensor>> int8_mixed_scaled_mm_cuda(
    const at::Tensor& A, const at::Tensor& CA, const at::Tensor& CB, const at::Tensor& SCA, const at::Tensor& SCB,
    const std::optional<at::Tensor>& outlier_cols, const std::optional<at::Tensor>& bias) {
  const bnb::gpu::DeviceGuard guard(A.device());
  return int8_mixed_scaled_mm_common(A, CA, CB, SCA, SCB, outlier_cols, bias, &int8_outlier_mm_cuda);
}

}  // namespace bnb::ops
