// CPU bindings of bitsandbytes::int8_linear_matmul (and .out), int8_mm_dequant,
// int8_scaled_mm (the GEMM with the rescale fused) and int8_mixed_scaled_mm.
#include <ATen/Parallel.h>

#include <algorithm>

#include "../int8_mixed.h"
#include "../ops.h"
#include "../prepare_int8.h"
#include "kernels/int8_gemm.h"
#include "kernels/int8_quant.h"

namespace bnb::ops {
namespace {

// Splits the output over threads: by 32-column panels when there are enough,
// else by 8-row groups (each thread then packs all of B, which is cheap next
// to its share of the product).
void run_gemm(const Int8GemmArgs& a) {
  if (a.M == 0 || a.N == 0) return;
  const int64_t threads = at::get_num_threads();
  const double work = static_cast<double>(a.M) * static_cast<double>(a.N) * static_cast<double>(a.K);
  if (threads <= 1 || work < 4.0e6 || at::in_parallel_region()) {
    cpu::int8_gemm(a, 0, a.M, 0, a.N);
    return;
  }
  constexpr int64_t kCols = cpu::kInt8GemmNAlign;
  const int64_t panels = (a.N + kCols - 1) / kCols;
  if (panels >= 2 * threads || a.M < 16 * threads) {
    at::parallel_for(0, panels, 1,
                     [&](int64_t b, int64_t e) { cpu::int8_gemm(a, 0, a.M, b * kCols, std::min(a.N, e * kCols)); });
  } else {
    const int64_t groups = (a.M + 7) / 8;
    at::parallel_for(0, groups, 1,
                     [&](int64_t b, int64_t e) { cpu::int8_gemm(a, b * 8, std::min(a.M, e * 8), 0, a.N); });
  }
}

}  // namespace

at::Tensor int8_linear_matmul_cpu(const at::Tensor& A, const at::Tensor& B) {
  const PreparedInt8Gemm p =
      prepare_int8_gemm("int8_linear_matmul", A, B, false, nullptr, nullptr, nullptr, std::nullopt, std::nullopt);
  run_gemm(p.args);
  return p.out;
}

void int8_linear_matmul_out_cpu(const at::Tensor& A, const at::Tensor& B, const at::Tensor& out) {
  const PreparedInt8Gemm p =
      prepare_int8_gemm("int8_linear_matmul", A, B, false, &out, nullptr, nullptr, std::nullopt, std::nullopt);
  run_gemm(p.args);
}

at::Tensor int8_mm_dequant_cpu(const at::Tensor& A, const at::Tensor& row_stats, const at::Tensor& col_stats,
                               std::optional<at::ScalarType> dtype, const std::optional<at::Tensor>& bias) {
  const PreparedInt8MmDequant p = prepare_int8_mm_dequant(A, row_stats, col_stats, dtype, bias);
  at::parallel_for(0, p.args.rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, p.args.cols)),
                   [&](int64_t b, int64_t e) { cpu::int8_mm_dequant(p.args, b, e); });
  return p.out;
}

at::Tensor int8_scaled_mm_cpu(const at::Tensor& A, const at::Tensor& B, const at::Tensor& row_stats,
                              const at::Tensor& col_stats, const std::optional<at::Tensor>& bias,
                              std::optional<at::ScalarType> dtype) {
  const PreparedInt8Gemm p =
      prepare_int8_gemm("int8_scaled_mm", A, B, true, nullptr, &row_stats, &col_stats, bias, dtype);
  run_gemm(p.args);
  return p.out;
}

std::tuple<at::Tensor, std::optional<at::Tensor>> int8_mixed_scaled_mm_cpu(
    const at::Tensor& A, const at::Tensor& CA, const at::Tensor& CB, const at::Tensor& SCA, const at::Tensor& SCB,
    const std::optional<at::Tensor>& outlier_cols, const std::optional<at::Tensor>& bias) {
  return int8_mixed_scaled_mm_common(A, CA, CB, SCA, SCB, outlier_cols, bias);
}

}  // namespace bnb::ops
