// Argument checking and output allocation of the LLM.int8() ops, shared by
// every backend's binding (see prepare.h for the pattern).
#pragma once

#include <ATen/ATen.h>

#include <cmath>
#include <optional>
#include <vector>

#include "alloc.h"
#include "checks.h"
#include "common/args.h"

namespace bnb {

// rows x cols view of a [..., cols] tensor.
inline int64_t int8_cols(const char* op, const char* arg, const at::Tensor& t) {
  TORCH_CHECK_VALUE(t.dim() >= 1, "bitsandbytes::", op, ": ", arg, " must have at least one dimension, got a scalar");
  return t.size(-1);
}
inline int64_t int8_rows(const at::Tensor& t, int64_t cols) { return cols == 0 ? 0 : t.numel() / cols; }

// As in the original, a threshold <= 0 turns the outlier decomposition off and
// +inf keeps it on with no outliers; NaN is rejected (the original silently
// treats it as off).
inline void check_threshold(const char* op, double threshold) {
  TORCH_CHECK_VALUE(!std::isnan(threshold), "bitsandbytes::", op,
                    ": threshold is NaN (use 0.0 for no outlier decomposition)");
}

// A fp32 vector of `n` statistics (row or column absmax) on A's device; `of`
// names the tensor (and `ref` is the tensor) whose rows or columns they scale.
inline at::Tensor check_stats(const char* op, const char* arg, const at::Tensor& s, int64_t n, const at::Tensor& A,
                              const char* of, const at::Tensor& ref) {
  check_dtype(op, arg, s, at::kFloat);
  check_same_device(op, arg, s, A);
  TORCH_CHECK_VALUE(s.numel() == n, "bitsandbytes::", op, ": ", arg, " has ", s.numel(), " entries (shape ", s.sizes(),
                    ") but ", n, " are needed for ", of, " of shape ", ref.sizes(),
                    " (corrupted or mismatched statistics, e.g. SCB?)");
  return s.contiguous();
}

// Optional bias of `n` entries in any float dtype, as contiguous fp32.
inline at::Tensor check_bias(const char* op, const std::optional<at::Tensor>& bias, int64_t n, const at::Tensor& A) {
  if (!bias.has_value() || !bias->defined()) return {};
  to_dtype(op, "bias", bias->scalar_type());
  check_same_device(op, "bias", *bias, A);
  TORCH_CHECK_VALUE(bias->numel() == n, "bitsandbytes::", op, ": bias has ", bias->numel(),
                    " entries but the output has ", n, " columns");
  return bias->to(at::kFloat).contiguous();
}

struct PreparedInt8Quant {
  at::Tensor input, row_q, row_stats, col_q, col_stats, flags;
  Int8QuantArgs args;
};

inline PreparedInt8Quant prepare_int8_quant(const char* op, const at::Tensor& A, double threshold, bool double_quant) {
  check_threshold(op, threshold);
  const DType dtype = to_dtype(op, "A", A.scalar_type());
  const int64_t cols = int8_cols(op, "A", A);
  const int64_t rows = int8_rows(A, cols);
  PreparedInt8Quant p;
  p.input = A.contiguous();
  p.row_q = empty_output(A.sizes(), A.options().dtype(at::kChar));
  p.row_stats = at::empty({rows}, A.options().dtype(at::kFloat));
  if (double_quant) {
    p.col_q = empty_output(A.sizes(), A.options().dtype(at::kChar));
    p.col_stats = at::empty({cols}, A.options().dtype(at::kFloat));
  }
  if (threshold > 0.0) p.flags = at::empty({cols}, A.options().dtype(at::kByte));  // the kernels write every flag
  p.args = Int8QuantArgs{.input = p.input.data_ptr(),
                         .dtype = dtype,
                         .rows = rows,
                         .cols = cols,
                         .threshold = static_cast<float>(threshold),
                         .outlier_cols = nullptr,
                         .row_q = p.row_q.data_ptr<int8_t>(),
                         .row_stats = p.row_stats.data_ptr<float>(),
                         .col_q = double_quant ? p.col_q.data_ptr<int8_t>() : nullptr,
                         .col_stats = double_quant ? p.col_stats.data_ptr<float>() : nullptr};
  return p;
}

// The flagged columns as the int64 outlier_cols output (None without a threshold),
// or with as_mask as a bool mask over the columns (no host round trip).
inline std::optional<at::Tensor> outlier_cols_of(const PreparedInt8Quant& p, bool as_mask = false) {
  if (!p.flags.defined()) return std::nullopt;
  return as_mask ? p.flags.view(at::kBool) : at::nonzero(p.flags).view(-1);
}

struct PreparedInt8Dequant {
  at::Tensor in, stats, out;
  Int8VectorDequantArgs args;
};

inline PreparedInt8Dequant prepare_int8_vectorwise_dequant(const at::Tensor& A, const at::Tensor& stats) {
  constexpr const char* op = "int8_vectorwise_dequant";
  check_dtype(op, "A", A, at::kChar);
  const int64_t cols = int8_cols(op, "A", A);
  const int64_t rows = int8_rows(A, cols);
  PreparedInt8Dequant p;
  p.stats = check_stats(op, "stats", stats, rows, A, "the rows of A", A);
  p.in = A.contiguous();
  p.out = empty_output(A.sizes(), A.options().dtype(at::kFloat));
  p.args = Int8VectorDequantArgs{.in = p.in.data_ptr<int8_t>(),
                                 .stats = p.stats.data_ptr<float>(),
                                 .rows = rows,
                                 .cols = cols,
                                 .out = p.out.data_ptr<float>()};
  return p;
}

inline at::ScalarType int8_out_dtype(const char* op, std::optional<at::ScalarType> dtype) {
  const at::ScalarType t = dtype.value_or(at::kHalf);
  to_dtype(op, "dtype", t);
  return t;
}

struct PreparedInt8MmDequant {
  at::Tensor in, row_stats, col_stats, bias, out;
  Int8MmDequantArgs args;
};

inline PreparedInt8MmDequant prepare_int8_mm_dequant(const at::Tensor& A, const at::Tensor& row_stats,
                                                     const at::Tensor& col_stats, std::optional<at::ScalarType> dtype,
                                                     const std::optional<at::Tensor>& bias) {
  constexpr const char* op = "int8_mm_dequant";
  check_dtype(op, "A", A, at::kInt);
  const at::ScalarType out_dtype = int8_out_dtype(op, dtype);
  const int64_t cols = int8_cols(op, "A", A);
  const int64_t rows = int8_rows(A, cols);
  PreparedInt8MmDequant p;
  p.row_stats = check_stats(op, "row_stats", row_stats, rows, A, "the rows of A", A);
  p.col_stats = check_stats(op, "col_stats", col_stats, cols, A, "the columns of A", A);
  p.bias = check_bias(op, bias, cols, A);
  p.in = A.contiguous();
  p.out = empty_output(A.sizes(), A.options().dtype(out_dtype));
  p.args = Int8MmDequantArgs{.in = p.in.data_ptr<int32_t>(),
                             .rows = rows,
                             .cols = cols,
                             .row_stats = p.row_stats.data_ptr<float>(),
                             .col_stats = p.col_stats.data_ptr<float>(),
                             .bias = p.bias.defined() ? p.bias.data_ptr<float>() : nullptr,
                             .out = p.out.data_ptr(),
                             .dtype = to_dtype(op, "dtype", out_dtype)};
  return p;
}

struct PreparedInt8Gemm {
  at::Tensor A, B, row_stats, col_stats, bias, out;
  std::vector<int64_t> out_shape;
  Int8GemmArgs args;
};

// int8_linear_matmul (scaled = false, out may be given) or int8_scaled_mm (scaled = true).
inline PreparedInt8Gemm prepare_int8_gemm(const char* op, const at::Tensor& A, const at::Tensor& B, bool scaled,
                                          const at::Tensor* out_given, const at::Tensor* row_stats,
                                          const at::Tensor* col_stats, const std::optional<at::Tensor>& bias,
                                          std::optional<at::ScalarType> dtype) {
  check_dtype(op, "A", A, at::kChar);
  check_dtype(op, "B", B, at::kChar);
  check_same_device(op, "B", B, A);
  const int64_t K = int8_cols(op, "A", A);
  TORCH_CHECK_VALUE(B.dim() == 2, "bitsandbytes::", op, ": B must be 2-D [N, K], got shape ", B.sizes());
  TORCH_CHECK_VALUE(B.size(1) == K, "bitsandbytes::", op, ": A has ", K, " columns (shape ", A.sizes(), ") but B has ",
                    B.size(1), " (shape ", B.sizes(), "); the product is A @ B.T");
  const int64_t N = B.size(0);
  PreparedInt8Gemm p;
  p.out_shape = A.sizes().vec();
  p.out_shape.back() = N;
  const int64_t rows = shape_numel(op, "out shape", c10::IntArrayRef(p.out_shape).slice(0, p.out_shape.size() - 1));
  p.A = A.contiguous();
  p.B = B.contiguous();
  at::ScalarType out_dtype = at::kInt;
  if (scaled) {
    out_dtype = int8_out_dtype(op, dtype);
    p.row_stats = check_stats(op, "row_stats", *row_stats, rows, A, "the rows of A", A);
    p.col_stats = check_stats(op, "col_stats", *col_stats, N, A, "the rows of B", B);
    p.bias = check_bias(op, bias, N, A);
  }
  if (out_given) {
    check_out(op, *out_given, p.out_shape, at::kInt, A);
    p.out = *out_given;
  } else {
    p.out = empty_output(p.out_shape, A.options().dtype(out_dtype));
  }
  p.args = Int8GemmArgs{.A = p.A.data_ptr<int8_t>(),
                        .B = p.B.data_ptr<int8_t>(),
                        .M = rows,
                        .N = N,
                        .K = K,
                        .out_i32 = scaled ? nullptr : p.out.data_ptr<int32_t>(),
                        .out = p.out.data_ptr(),
                        .dtype = scaled ? to_dtype(op, "dtype", out_dtype) : DType::kF32,
                        .row_stats = scaled ? p.row_stats.data_ptr<float>() : nullptr,
                        .col_stats = scaled ? p.col_stats.data_ptr<float>() : nullptr,
                        .bias = p.bias.defined() ? p.bias.data_ptr<float>() : nullptr};
  return p;
}

}  // namespace bnb
