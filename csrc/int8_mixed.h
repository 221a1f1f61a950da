// int8_mixed_scaled_mm for every backend: the fused int8 product of the
// inlier columns plus the 16-bit product of the outlier columns (LLM.int8()'s
// mixed-precision decomposition). Written with ATen ops and the dispatcher, so
// each backend's int8_scaled_mm / int8_vectorwise_dequant does the work.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <optional>
#include <tuple>

#include "checks.h"
#include "prepare_int8.h"

namespace bnb::ops {

// A backend's product of the outlier columns given as a bool mask, added into
// out2d [M, N] without a host round trip: out2d += A2 @ dequant(CB, SCB)[:, mask].T.
using OutlierMaskMm = void (*)(const at::Tensor& A2, const at::Tensor& CB, const at::Tensor& SCB,
                               const at::Tensor& mask, const at::Tensor& out2d);

// outlier_cols: int64 column indices (validated, which reads two numbers back
// to the host) or a bool mask over the K columns (no second output; with
// mask_mm nothing is read back).
inline std::tuple<at::Tensor, std::optional<at::Tensor>> int8_mixed_scaled_mm_common(
    const at::Tensor& A, const at::Tensor& CA, const at::Tensor& CB, const at::Tensor& SCA, const at::Tensor& SCB,
    const std::optional<at::Tensor>& outlier_cols, const std::optional<at::Tensor>& bias,
    OutlierMaskMm mask_mm = nullptr) {
  constexpr const char* op = "int8_mixed_scaled_mm";
  to_dtype(op, "A", A.scalar_type());
  TORCH_CHECK_VALUE(A.sizes() == CA.sizes(), "bitsandbytes::", op, ": A has shape ", A.sizes(),
                    " but its int8 form CA has shape ", CA.sizes());
  check_same_device(op, "CA", CA, A);
  // checked here so that errors name this op's arguments, not int8_scaled_mm's A, B, row_stats, col_stats
  check_dtype(op, "CA", CA, at::kChar);
  check_dtype(op, "CB", CB, at::kChar);
  check_same_device(op, "CB", CB, A);
  const int64_t K = int8_cols(op, "CA", CA);
  TORCH_CHECK_VALUE(CB.dim() == 2 && CB.size(1) == K, "bitsandbytes::", op, ": CB must be [N, ", K,
                    "] for CA of shape ", CA.sizes(), ", got shape ", CB.sizes());
  check_stats(op, "SCA", SCA, int8_rows(CA, K), A, "the rows of CA", CA);
  check_stats(op, "SCB", SCB, CB.size(0), A, "the rows of CB", CB);
  check_bias(op, bias, CB.size(0), A);
  static auto scaled_mm =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("bitsandbytes::int8_scaled_mm", "")
          .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                            const std::optional<at::Tensor>&, std::optional<at::ScalarType>)>();
  static auto dequant = c10::Dispatcher::singleton()
                            .findSchemaOrThrow("bitsandbytes::int8_vectorwise_dequant", "")
                            .typed<at::Tensor(const at::Tensor&, const at::Tensor&)>();
  const bool has_cols = outlier_cols.has_value() && outlier_cols->defined();
  if (has_cols) {
    TORCH_CHECK_TYPE(outlier_cols->scalar_type() == at::kLong || outlier_cols->scalar_type() == at::kBool,
                     "bitsandbytes::", op,
                     ": outlier_cols must be int64 (column indices) or bool (a column mask), got ",
                     dtype_name(outlier_cols->scalar_type()));
    check_same_device(op, "outlier_cols", *outlier_cols, A);
  }
  at::Tensor out = scaled_mm.call(CA, CB, SCA, SCB, bias, A.scalar_type());
  if (!has_cols || outlier_cols->numel() == 0) return {out, std::nullopt};
  const at::Tensor& cols = *outlier_cols;
  const bool is_mask = cols.scalar_type() == at::kBool;
  at::Tensor flat;
  if (is_mask) {
    TORCH_CHECK_VALUE(cols.numel() == K, "bitsandbytes::", op,
                      ": an outlier_cols mask must have one entry per column (", K, "), got ", cols.numel());
    if (mask_mm != nullptr) {
      mask_mm(A.reshape({-1, K}), CB, SCB, cols.reshape({-1}), out.view({-1, CB.size(0)}));
      return {out, std::nullopt};
    }
    flat = at::nonzero(cols.reshape({-1})).view(-1);
    if (flat.numel() == 0) return {out, std::nullopt};
  } else {
    flat = cols.reshape({-1});
    const int64_t lo = flat.min().item<int64_t>(), hi = flat.max().item<int64_t>();
    TORCH_CHECK_VALUE(lo >= 0 && hi < K, "bitsandbytes::", op, ": outlier_cols must lie in [0, ", K,
                      "), got values in [", lo, ", ", hi, "]");
    if (flat.numel() > 1) {
      const at::Tensor sorted = std::get<0>(flat.sort());
      const at::Tensor repeated = sorted.slice(0, 1).eq(sorted.slice(0, 0, -1));
      TORCH_CHECK_VALUE(
          !repeated.any().item<bool>(), "bitsandbytes::", op, ": outlier_cols lists column ",
          sorted.slice(0, 1).masked_select(repeated)[0].item<int64_t>(),
          " more than once; each outlier column must appear once (int8_vectorwise_quant returns them so)");
    }
  }
  const at::Tensor subB = dequant.call(CB.index_select(1, flat), SCB).to(A.scalar_type());
  const at::Tensor subA = A.reshape({-1, K}).index_select(1, flat);
  out.view({-1, CB.size(0)}).addmm_(subA, subB.t());
  if (is_mask) return {out, std::nullopt};
  return {out, subB};
}

}  // namespace bnb::ops
