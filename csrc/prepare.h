// Argument checking and output allocation shared by every backend's binding:
// a binding calls prepare_<op>(), runs its kernels on the returned Args, and
// returns the outputs. The Prepared structs keep contiguous copies alive.
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <vector>

#include "alloc.h"
#include "checks.h"
#include "common/args.h"

namespace bnb {

struct PreparedQuantize4bit {
  at::Tensor input, packed, absmax;
  at::ScalarType quant_storage;
  Quantize4bitArgs args;
  // the packed bytes viewed as quant_storage, shaped (bytes / itemsize, 1)
  at::Tensor packed_view() const {
    const int64_t itemsize = static_cast<int64_t>(c10::elementSize(quant_storage));
    return packed.view(quant_storage).view({packed.numel() / itemsize, 1});
  }
};

inline PreparedQuantize4bit prepare_quantize_4bit(const at::Tensor& A, int64_t blocksize, std::string_view quant_type,
                                                  at::ScalarType quant_storage) {
  constexpr const char* op = "quantize_4bit";
  check_4bit_blocksize(op, blocksize);
  const QuantType qt = parse_quant_type(op, quant_type);
  const DType dtype = to_dtype(op, "A", A.scalar_type());
  check_quant_storage(op, quant_storage);
  const int64_t n = A.numel();
  const int64_t nbytes = packed_4bit_bytes(n);
  const int64_t itemsize = static_cast<int64_t>(c10::elementSize(quant_storage));
  TORCH_CHECK_VALUE(nbytes % itemsize == 0, "bitsandbytes::", op, ": ", n, " elements pack into ", nbytes,
                    " bytes, which is not a whole number of ", dtype_name(quant_storage), " (", itemsize,
                    " bytes) for quant_storage");
  PreparedQuantize4bit p;
  p.input = A.contiguous();
  p.packed = empty_output({nbytes}, A.options().dtype(at::kByte));
  p.absmax = at::empty({num_blocks(n, blocksize)}, A.options().dtype(at::kFloat));
  p.quant_storage = quant_storage;
  p.args = Quantize4bitArgs{.input = p.input.data_ptr(),
                            .dtype = dtype,
                            .n = n,
                            .blocksize = blocksize,
                            .quant_type = qt,
                            .packed = p.packed.data_ptr<uint8_t>(),
                            .absmax = p.absmax.data_ptr<float>()};
  return p;
}

struct PreparedDequantize4bit {
  at::Tensor bytes, absmax;
  Dequantize4bitArgs args;
};

inline PreparedDequantize4bit prepare_dequantize_4bit(const at::Tensor& A, const at::Tensor& absmax, int64_t blocksize,
                                                      std::string_view quant_type, c10::IntArrayRef shape,
                                                      at::ScalarType dtype, const at::Tensor& out) {
  constexpr const char* op = "dequantize_4bit";
  check_4bit_blocksize(op, blocksize);
  const QuantType qt = parse_quant_type(op, quant_type);
  const DType out_dtype = to_dtype(op, "dtype", dtype);
  const int64_t n = shape_numel(op, "shape", shape);
  PreparedDequantize4bit p;
  p.bytes = packed_4bit_bytes(op, "A", A, "shape", n);
  check_absmax(op, absmax, n, blocksize, A);
  check_out(op, out, shape, dtype, A);
  p.absmax = absmax.contiguous();
  p.args = Dequantize4bitArgs{.packed = p.bytes.data_ptr<uint8_t>(),
                              .absmax = p.absmax.data_ptr<float>(),
                              .n = n,
                              .blocksize = blocksize,
                              .quant_type = qt,
                              .out = out.data_ptr(),
                              .dtype = out_dtype};
  return p;
}

// The output of dequantize_4bit, allocated only once shape and dtype are checked against A.
inline at::Tensor empty_dequantize_4bit_output(const at::Tensor& A, c10::IntArrayRef shape, at::ScalarType dtype) {
  constexpr const char* op = "dequantize_4bit";
  to_dtype(op, "dtype", dtype);
  check_packed_4bit_size(op, "A", A, "shape", shape_numel(op, "shape", shape));
  return empty_output(shape, A.options().dtype(dtype));
}

inline void check_code(const char* op, const at::Tensor& code, const at::Tensor& A) {
  check_dtype(op, "code", code, at::kFloat);
  check_same_device(op, "code", code, A);
  TORCH_CHECK_VALUE(code.numel() == 256, "bitsandbytes::", op, ": code must have 256 entries, got ", code.numel());
}

struct PreparedQuantizeBlockwise {
  at::Tensor input, code, out, absmax;
  QuantizeBlockwiseArgs args;  // grid_lut is left for the CPU binding to fill in
};

inline PreparedQuantizeBlockwise prepare_quantize_blockwise(const at::Tensor& A, const at::Tensor& code,
                                                            int64_t blocksize) {
  constexpr const char* op = "quantize_blockwise";
  check_8bit_blocksize(op, blocksize);
  const DType dtype = to_dtype(op, "A", A.scalar_type());
  check_code(op, code, A);
  PreparedQuantizeBlockwise p;
  p.input = A.contiguous();
  p.code = code.contiguous();
  p.out = empty_output(A.sizes(), A.options().dtype(at::kByte));
  p.absmax = at::empty({num_blocks(A.numel(), blocksize)}, A.options().dtype(at::kFloat));
  p.args = QuantizeBlockwiseArgs{.input = p.input.data_ptr(),
                                 .dtype = dtype,
                                 .n = A.numel(),
                                 .blocksize = blocksize,
                                 .grid_lut = nullptr,
                                 .code = p.code.data_ptr<float>(),
                                 .out = p.out.data_ptr<uint8_t>(),
                                 .absmax = p.absmax.data_ptr<float>()};
  return p;
}

struct PreparedDequantizeBlockwise {
  at::Tensor in, code, absmax;
  DequantizeBlockwiseArgs args;
};

inline PreparedDequantizeBlockwise prepare_dequantize_blockwise(const at::Tensor& A, const at::Tensor& absmax,
                                                                const at::Tensor& code, int64_t blocksize,
                                                                at::ScalarType dtype, const at::Tensor& out) {
  constexpr const char* op = "dequantize_blockwise";
  check_8bit_blocksize(op, blocksize);
  check_dtype(op, "A", A, at::kByte);
  const DType out_dtype = to_dtype(op, "dtype", dtype);
  check_code(op, code, A);
  check_absmax(op, absmax, A.numel(), blocksize, A);
  check_out(op, out, A.sizes(), dtype, A);
  PreparedDequantizeBlockwise p;
  p.in = A.contiguous();
  p.code = code.contiguous();
  p.absmax = absmax.contiguous();
  p.args = DequantizeBlockwiseArgs{.in = p.in.data_ptr<uint8_t>(),
                                   .code = p.code.data_ptr<float>(),
                                   .absmax = p.absmax.data_ptr<float>(),
                                   .n = A.numel(),
                                   .blocksize = blocksize,
                                   .out = out.data_ptr(),
                                   .dtype = out_dtype};
  return p;
}

// ---- gemv_4bit / gemm_4bit --------------------------------------------------
struct PreparedGemm4bit {
  at::Tensor A, bytes, absmax, absmax_8bit, absmax_code, absmax_offset, bias, code, out;
  Gemm4bitArgs args;
};

// The output shape (*A.shape[:-1], N) of a 4-bit matmul, after checking A against shapeB = [N, K].
inline std::vector<int64_t> gemm_4bit_out_shape(const char* op, const at::Tensor& A, c10::IntArrayRef shapeB) {
  TORCH_CHECK_VALUE(shapeB.size() == 2, "bitsandbytes::", op, ": shapeB must be [N, K] (2 entries), got ", shapeB);
  TORCH_CHECK_VALUE(shapeB[0] >= 0 && shapeB[1] >= 0, "bitsandbytes::", op, ": shapeB has a negative size: ", shapeB);
  TORCH_CHECK_VALUE(A.dim() >= 1, "bitsandbytes::", op, ": A must have at least 1 dimension, got a 0-dim tensor");
  TORCH_CHECK_VALUE(A.size(-1) == shapeB[1], "bitsandbytes::", op, ": A has ", A.size(-1),
                    " features (last dimension of shape ", A.sizes(), ") but the weight's shapeB ", shapeB, " expects ",
                    shapeB[1]);
  std::vector<int64_t> shape(A.sizes().begin(), A.sizes().end() - 1);
  shape.push_back(shapeB[0]);
  return shape;
}

// The output of a 4-bit matmul, allocated only once shapeB is checked against A and against B's size (a
// mismatched shapeB would otherwise ask for any amount of memory first).
inline at::Tensor empty_gemm_4bit_output(const char* op, const at::Tensor& A, const at::Tensor& B,
                                         c10::IntArrayRef shapeB) {
  const std::vector<int64_t> shape = gemm_4bit_out_shape(op, A, shapeB);
  check_packed_4bit_size(op, "B", B, "shapeB", shape_numel(op, "shapeB", shapeB));
  return at::empty(shape, A.options());
}

// Shared by gemv_4bit (code given, plain absmax) and gemm_4bit (quant_type, optional nested absmax and bias).
// `out` must already have the checked shape and dtype.
inline PreparedGemm4bit prepare_gemm_4bit(const char* op, const at::Tensor& A, const at::Tensor& B,
                                          c10::IntArrayRef shapeB, const at::Tensor& absmax, const at::Tensor* code,
                                          int64_t blocksize, QuantType quant_type,
                                          const std::optional<at::Tensor>& bias,
                                          const std::optional<at::Tensor>& absmax_8bit,
                                          const std::optional<at::Tensor>& absmax_code,
                                          const std::optional<at::Tensor>& absmax_offset, const at::Tensor& out) {
  check_4bit_blocksize(op, blocksize);
  const DType dtype = to_dtype(op, "A", A.scalar_type());
  const std::vector<int64_t> out_shape = gemm_4bit_out_shape(op, A, shapeB);
  const int64_t N = shapeB[0], K = shapeB[1], n = shape_numel(op, "shapeB", shapeB);
  check_same_device(op, "B", B, A);
  PreparedGemm4bit p;
  p.bytes = packed_4bit_bytes(op, "B", B, "shapeB", n);
  check_out(op, out, out_shape, A.scalar_type(), A);
  if (code != nullptr) {
    check_dtype(op, "code", *code, at::kFloat);
    check_same_device(op, "code", *code, A);
    TORCH_CHECK_VALUE(code->numel() == 16, "bitsandbytes::", op, ": code must have 16 entries (the 4-bit table), got ",
                      code->numel());
    p.code = code->contiguous();
  }
  const bool nested = absmax_8bit.has_value();
  TORCH_CHECK_VALUE(nested || (!absmax_code.has_value() && !absmax_offset.has_value()), "bitsandbytes::", op,
                    ": absmax_code and absmax_offset are only used together with absmax_8bit");
  if (nested) {
    const int64_t blocks = num_blocks(n, blocksize);
    check_dtype(op, "absmax_8bit", *absmax_8bit, at::kByte);
    check_same_device(op, "absmax_8bit", *absmax_8bit, A);
    TORCH_CHECK_VALUE(absmax_8bit->numel() >= blocks, "bitsandbytes::", op, ": absmax_8bit has ", absmax_8bit->numel(),
                      " entries but ", n, " elements in blocks of ", blocksize, " need ", blocks,
                      " (corrupted or mismatched quant state?)");
    TORCH_CHECK_VALUE(absmax_code.has_value() && absmax_offset.has_value(), "bitsandbytes::", op,
                      ": absmax_8bit needs absmax_code and absmax_offset as well");
    check_dtype(op, "absmax_code", *absmax_code, at::kFloat);
    check_same_device(op, "absmax_code", *absmax_code, A);
    TORCH_CHECK_VALUE(absmax_code->numel() == 256, "bitsandbytes::", op, ": absmax_code must have 256 entries, got ",
                      absmax_code->numel());
    // any floating dtype is taken (as the original does) and converted to float32
    TORCH_CHECK_TYPE(at::isFloatingType(absmax_offset->scalar_type()), "bitsandbytes::", op,
                     ": absmax_offset must be a floating-point tensor, got ", absmax_offset->scalar_type());
    check_same_device(op, "absmax_offset", *absmax_offset, A);
    TORCH_CHECK_VALUE(absmax_offset->dim() == 0, "bitsandbytes::", op,
                      ": absmax_offset must be a 0-dim tensor, got shape ", absmax_offset->sizes());
    check_absmax(op, absmax, blocks, kNestedBlocksize, A);
    p.absmax_8bit = absmax_8bit->contiguous();
    p.absmax_code = absmax_code->contiguous();
    p.absmax_offset = absmax_offset->to(at::kFloat).contiguous();
  } else {
    check_absmax(op, absmax, n, blocksize, A);
  }
  p.absmax = absmax.contiguous();
  if (bias.has_value()) {
    check_same_device(op, "bias", *bias, A);
    to_dtype(op, "bias", bias->scalar_type());
    TORCH_CHECK_VALUE(bias->numel() == N, "bitsandbytes::", op, ": bias has ", bias->numel(), " entries but the ", N,
                      " output features need ", N);
    p.bias = bias->reshape({N}).to(at::kFloat).contiguous();
  }
  p.A = A.contiguous();
  p.out = out;
  p.args = Gemm4bitArgs{.A = p.A.data_ptr(),
                        .dtype = dtype,
                        .M = N > 0 ? out.numel() / N : 0,
                        .N = N,
                        .K = K,
                        .B = p.bytes.data_ptr<uint8_t>(),
                        .code = code != nullptr ? p.code.data_ptr<float>() : nullptr,
                        .quant_type = quant_type,
                        .blocksize = blocksize,
                        .absmax = p.absmax.data_ptr<float>(),
                        .absmax_8bit = nested ? p.absmax_8bit.data_ptr<uint8_t>() : nullptr,
                        .absmax_code = nested ? p.absmax_code.data_ptr<float>() : nullptr,
                        .absmax_offset = nested ? p.absmax_offset.data_ptr<float>() : nullptr,
                        .bias = bias.has_value() ? p.bias.data_ptr<float>() : nullptr,
                        .out = out.data_ptr()};
  return p;
}

inline PreparedGemm4bit prepare_gemv_4bit(const at::Tensor& A, const at::Tensor& B, c10::IntArrayRef shapeB,
                                          const at::Tensor& absmax, const at::Tensor& code, int64_t blocksize,
                                          const at::Tensor& out) {
  return prepare_gemm_4bit("gemv_4bit", A, B, shapeB, absmax, &code, blocksize, QuantType::kNF4, std::nullopt,
                           std::nullopt, std::nullopt, std::nullopt, out);
}

}  // namespace bnb
