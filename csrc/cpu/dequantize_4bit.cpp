// CPU binding of bitsandbytes::dequantize_4bit (and .out).
#include "../checks.h"
#include "../ops.h"
#include "kernels/dequantize_4bit.h"
#include "parallel.h"

namespace bnb::ops {

void dequantize_4bit_out_cpu(const at::Tensor& A, const at::Tensor& absmax, int64_t blocksize,
                             std::string_view quant_type, c10::IntArrayRef shape, at::ScalarType dtype,
                             const at::Tensor& out) {
  constexpr const char* op = "dequantize_4bit";
  check_4bit_blocksize(op, blocksize);
  const QuantType qt = parse_quant_type(op, quant_type);
  const DType out_dtype = to_dtype(op, "dtype", dtype);
  const int64_t n = shape_numel(shape);
  const at::Tensor bytes = packed_4bit_bytes(op, A, n);
  check_absmax(op, absmax, n, blocksize, A);
  check_out(op, out, shape, dtype, A);
  const at::Tensor scales = absmax.contiguous();
  const cpu::Dequantize4bitArgs args{bytes.data_ptr<uint8_t>(), scales.data_ptr<float>(), n, blocksize, qt,
                                     out.data_ptr(), out_dtype};
  cpu::parallel_over_blocks(num_blocks(n, blocksize), blocksize,
                            [&](int64_t begin, int64_t end) { cpu::dequantize_4bit(args, begin, end); });
}

at::Tensor dequantize_4bit_cpu(const at::Tensor& A, const at::Tensor& absmax, int64_t blocksize,
                               std::string_view quant_type, c10::IntArrayRef shape, at::ScalarType dtype) {
  at::Tensor out = at::empty(shape, A.options().dtype(dtype));
  dequantize_4bit_out_cpu(A, absmax, blocksize, quant_type, shape, dtype, out);
  return out;
}

}  // namespace bnb::ops
