// CPU bindings of bitsandbytes::int8_vectorwise_quant, int8_double_quant and
// int8_vectorwise_dequant.
#include <ATen/Parallel.h>

#include <algorithm>

#include "../ops.h"
#include "../prepare_int8.h"
#include "kernels/int8_quant.h"

namespace bnb::ops {
namespace {

// Work chunks of at least ~32k elements, so small inputs stay on one thread.
int64_t grain_for(int64_t elements_per_item) {
  return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, elements_per_item));
}

void find_outliers(PreparedInt8Quant& p) {
  if (!p.flags.defined()) return;
  uint8_t* flags = p.flags.data_ptr<uint8_t>();
  at::parallel_for(0, p.args.cols, grain_for(p.args.rows),
                   [&](int64_t b, int64_t e) { cpu::int8_find_outlier_cols(p.args, flags, b, e); });
  bool any = false;
  for (int64_t c = 0; c < p.args.cols && !any; ++c) any = flags[c] != 0;
  p.args.outlier_cols = any ? flags : nullptr;
}

void quant_rows(const PreparedInt8Quant& p) {
  at::parallel_for(0, p.args.rows, grain_for(p.args.cols),
                   [&](int64_t b, int64_t e) { cpu::int8_quant_rows(p.args, b, e); });
}

std::tuple<at::Tensor, at::Tensor, std::optional<at::Tensor>> vectorwise_quant(const at::Tensor& A, double threshold,
                                                                               bool as_mask) {
  PreparedInt8Quant p = prepare_int8_quant("int8_vectorwise_quant", A, threshold, false);
  find_outliers(p);
  quant_rows(p);
  return {p.row_q, p.row_stats, outlier_cols_of(p, as_mask)};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, std::optional<at::Tensor>> double_quant(const at::Tensor& A,
                                                                                                   double threshold,
                                                                                                   bool as_mask) {
  PreparedInt8Quant p = prepare_int8_quant("int8_double_quant", A, threshold, true);
  find_outliers(p);
  quant_rows(p);
  at::parallel_for(0, p.args.cols, grain_for(p.args.rows),
                   [&](int64_t b, int64_t e) { cpu::int8_quant_cols(p.args, b, e); });
  return {p.row_q, p.col_q, p.row_stats, p.col_stats, outlier_cols_of(p, as_mask)};
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, std::optional<at::Tensor>> int8_vectorwise_quant_cpu(const at::Tensor& A,
                                                                                        double threshold) {
  return vectorwise_quant(A, threshold, false);
}
std::tuple<at::Tensor, at::Tensor, std::optional<at::Tensor>> int8_vectorwise_quant_mask_cpu(const at::Tensor& A,
                                                                                             double threshold) {
  return vectorwise_quant(A, threshold, true);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, std::optional<at::Tensor>> int8_double_quant_cpu(
    const at::Tensor& A, double threshold) {
  return double_quant(A, threshold, false);
}
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, std::optional<at::Tensor>> int8_double_quant_mask_cpu(
    const at::Tensor& A, double threshold) {
  return double_quant(A, threshold, true);
}

at::Tensor int8_vectorwise_dequant_cpu(const at::Tensor& A, const at::Tensor& stats) {
  const PreparedInt8Dequant p = prepare_int8_vectorwise_dequant(A, stats);
  at::parallel_for(0, p.args.rows, grain_for(p.args.cols),
                   [&](int64_t b, int64_t e) { cpu::int8_vectorwise_dequant(p.args, b, e); });
  return p.out;
}

}  // namespace bnb::ops
