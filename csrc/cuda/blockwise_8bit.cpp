// CUDA/HIP bindings of bitsandbytes::quantize_blockwise and dequantize_blockwise (and .out).
#include "../alloc.h"
#include "../ops.h"
#include "../prepare.h"
#include "kernels/launchers.h"
#include "stream.h"

namespace bnb::ops {

std::tuple<at::Tensor, at::Tensor> quantize_blockwise_cuda(const at::Tensor& A, const at::Tensor& code,
                                                           int64_t blocksize) {
  const bnb::gpu::DeviceGuard guard(A.device());
  const PreparedQuantizeBlockwise p = prepare_quantize_blockwise(A, code, blocksize);
  gpu::check_launch("quantize_blockwise", gpu::launch_quantize_blockwise(p.args, gpu::current_stream(A)));
  return {p.out, p.absmax};
}

void dequantize_blockwise_out_cuda(const at::Tensor& A, const at::Tensor& absmax, const at::Tensor& code,
                                   int64_t blocksize, at::ScalarType dtype, const at::Tensor& out) {
  const bnb::gpu::DeviceGuard guard(A.device());
  const PreparedDequantizeBlockwise p = prepare_dequantize_blockwise(A, absmax, code, blocksize, dtype, out);
  gpu::check_launch("dequantize_blockwise", gpu::launch_dequantize_blockwise(p.args, gpu::current_stream(A)));
}

at::Tensor dequantize_blockwise_cuda(const at::Tensor& A, const at::Tensor& absmax, const at::Tensor& code,
                                     int64_t blocksize, at::ScalarType dtype) {
  at::Tensor out = empty_output(A.sizes(), A.options().dtype(dtype));
  dequantize_blockwise_out_cuda(A, absmax, code, blocksize, dtype, out);
  return out;
}

}  // namespace bnb::ops
