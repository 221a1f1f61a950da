// CPU binding of bitsandbytes::dequantize_4bit (and .out).
#include "kernels/dequantize_4bit.h"
#include "../ops.h"
#include "../prepare.h"
#include "parallel.h"

namespace bnb::ops {

void dequantize_4bit_out_cpu(const at::Tensor& A, const at::Tensor& absmax, int64_t blocksize,
                             std::string_view quant_type, c10::IntArrayRef shape, at::ScalarType dtype,
                             const at::Tensor& out) {
  const PreparedDequantize4bit p = prepare_dequantize_4bit(A, absmax, blocksize, quant_type, shape, dtype, out);
  cpu::parallel_over_blocks(num_blocks(p.args.n, blocksize), blocksize,
                            [&](int64_t begin, int64_t end) { cpu::dequantize_4bit(p.args, begin, end); });
}

at::Tensor dequantize_4bit_cpu(const at::Tensor& A, const at::Tensor& absmax, int64_t blocksize,
                               std::string_view quant_type, c10::IntArrayRef shape, at::ScalarType dtype) {
  at::Tensor out = empty_dequantize_4bit_output(A, shape, dtype);
  dequantize_4bit_out_cpu(A, absmax, blocksize, quant_type, shape, dtype, out);
  return out;
}

}  // namespace bnb::ops
