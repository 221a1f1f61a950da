// CUDA/HIP binding of bitsandbytes::dequantize_4bit (and .out).
#include "../ops.h"
#include "../prepare.h"
#include "kernels/launchers.h"
#include "stream.h"

namespace bnb::ops {

void dequantize_4bit_out_cuda(const at::Tensor& A, const at::Tensor& absmax, int64_t blocksize,
                              std::string_view quant_type, c10::IntArrayRef shape, at::ScalarType dtype,
                              const at::Tensor& out) {
  const bnb::gpu::DeviceGuard guard(A.device());
  const PreparedDequantize4bit p = prepare_dequantize_4bit(A, absmax, blocksize, quant_type, shape, dtype, out);
  gpu::check_launch("dequantize_4bit", gpu::launch_dequantize_4bit(p.args, gpu::current_stream(A)));
}

at::Tensor dequantize_4bit_cuda(const at::Tensor& A, const at::Tensor& absmax, int64_t blocksize,
                                std::string_view quant_type, c10::IntArrayRef shape, at::ScalarType dtype) {
  at::Tensor out = empty_dequantize_4bit_output(A, shape, dtype);
  dequantize_4bit_out_cuda(A, absmax, blocksize, quant_type, shape, dtype, out);
  return out;
}

}  // namespace bnb::ops
