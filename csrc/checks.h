// Argument checks shared by the CPU and GPU bindings. Every failure names the
// op, the argument and the offending value.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <string_view>

#include "common/format.h"
#include "common/half.h"

namespace bnb {

// "torch.int8" rather than ScalarType's "Char".
inline std::string dtype_name(at::ScalarType t) { return "torch." + std::string(c10::getDtypeNames(t).first); }

inline DType to_dtype(const char* op, const char* arg, at::ScalarType t) {
  switch (t) {
    case at::kFloat: return DType::kF32;
    case at::kHalf: return DType::kF16;
    case at::kBFloat16: return DType::kBF16;
    default:
      TORCH_CHECK_TYPE(false, "bitsandbytes::", op, ": ", arg, " must be float16, bfloat16 or float32, got ",
                       dtype_name(t));
  }
}

inline QuantType parse_quant_type(const char* op, std::string_view s) {
  if (s == "nf4") return QuantType::kNF4;
  if (s == "fp4") return QuantType::kFP4;
  TORCH_CHECK_VALUE(false, "bitsandbytes::", op, ": quant_type must be 'nf4' or 'fp4', got '", std::string(s), "'");
}

inline void check_4bit_blocksize(const char* op, int64_t blocksize) {
  TORCH_CHECK_VALUE(is_valid_4bit_blocksize(blocksize), "bitsandbytes::", op,
                    ": blocksize must be a power of two from 32 to 4096, got ", blocksize);
}

inline void check_8bit_blocksize(const char* op, int64_t blocksize) {
  TORCH_CHECK_VALUE(blocksize > 0, "bitsandbytes::", op, ": blocksize must be positive, got ", blocksize);
}

inline void check_dtype(const char* op, const char* arg, const at::Tensor& t, at::ScalarType expected) {
  TORCH_CHECK_TYPE(t.scalar_type() == expected, "bitsandbytes::", op, ": ", arg, " must be ", dtype_name(expected),
                   ", got ", dtype_name(t.scalar_type()));
}

inline void check_same_device(const char* op, const char* arg, const at::Tensor& t, const at::Tensor& ref) {
  TORCH_CHECK(t.device() == ref.device(), "bitsandbytes::", op, ": ", arg, " is on ", t.device(),
              " but the input is on ", ref.device());
}

inline int64_t shape_numel(const char* op, const char* arg, c10::IntArrayRef shape) {
  int64_t n = 1;
  for (const int64_t d : shape) {
    TORCH_CHECK_VALUE(d >= 0, "bitsandbytes::", op, ": ", arg, " has a negative dimension: ", shape);
    TORCH_CHECK_VALUE(!__builtin_mul_overflow(n, d, &n), "bitsandbytes::", op, ": ", arg, " ", shape,
                      " has more elements than an int64 counts");
  }
  return n;
}

// The packed 4-bit tensor may be stored in any dtype (quant_storage); it must
// hold the bytes of n elements.
inline void check_packed_4bit_size(const char* op, const char* arg, const at::Tensor& A, const char* shape_arg,
                                   int64_t n) {
  const int64_t nbytes = A.numel() * static_cast<int64_t>(A.element_size());
  TORCH_CHECK_VALUE(nbytes >= packed_4bit_bytes(n), "bitsandbytes::", op, ": ", arg,
                    " (the packed 4-bit tensor) holds ", nbytes, " bytes but the ", n, " elements of ", shape_arg,
                    " need ", packed_4bit_bytes(n), " (corrupted or mismatched quant state?)");
}

// Its byte view (a contiguous copy of a strided view), checked as above.
inline at::Tensor packed_4bit_bytes(const char* op, const char* arg, const at::Tensor& A, const char* shape_arg,
                                    int64_t n) {
  check_packed_4bit_size(op, arg, A, shape_arg, n);
  return A.contiguous().view(-1).view(at::kByte);
}

// The dtypes a packed 4-bit tensor may be viewed as (the original documents these five).
inline void check_quant_storage(const char* op, at::ScalarType t) {
  TORCH_CHECK_TYPE(t == at::kByte || t == at::kChar || t == at::kHalf || t == at::kBFloat16 || t == at::kFloat,
                   "bitsandbytes::", op,
                   ": quant_storage must be torch.uint8, torch.int8, torch.float16, torch.bfloat16 or torch.float32, "
                   "got ",
                   dtype_name(t));
}

inline void check_absmax(const char* op, const at::Tensor& absmax, int64_t n, int64_t blocksize, const at::Tensor& A) {
  check_dtype(op, "absmax", absmax, at::kFloat);
  check_same_device(op, "absmax", absmax, A);
  TORCH_CHECK_VALUE(absmax.numel() >= num_blocks(n, blocksize), "bitsandbytes::", op, ": absmax has ", absmax.numel(),
                    " entries but ", n, " elements in blocks of ", blocksize, " need ", num_blocks(n, blocksize),
                    " (corrupted or mismatched quant state?)");
}

inline void check_out(const char* op, const at::Tensor& out, c10::IntArrayRef shape, at::ScalarType dtype,
                      const at::Tensor& A) {
  TORCH_CHECK_VALUE(out.sizes() == shape, "bitsandbytes::", op, ": out has shape ", out.sizes(), ", expected ", shape);
  check_dtype(op, "out", out, dtype);
  check_same_device(op, "out", out, A);
  TORCH_CHECK(out.is_contiguous(), "bitsandbytes::", op, ": out must be contiguous");
}

}  // namespace bnb
