// Argument checking and output allocation shared by every backend's binding:
// a binding calls prepare_<op>(), runs its kernels on the returned Args, and
// returns the outputs. The Prepared structs keep contiguous copies alive.
#pragma once

#include <ATen/ATen.h>

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
  const int64_t n = shape_numel(shape);
  PreparedDequantize4bit p;
  p.bytes = packed_4bit_bytes(op, A, n);
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

}  // namespace bnb
