// CUDA/HIP binding of bitsandbytes::quantize_4bit.
#include "../ops.h"
#include "../prepare.h"
#include "kernels/launchers.h"
#include "stream.h"

namespace bnb::ops {

std::tuple<at::Tensor, at::Tensor> quantize_4bit_cuda(const at::Tensor& A, int64_t blocksize,
                                                      std::string_view quant_type, at::ScalarType quant_storage) {
  const bnb::gpu::DeviceGuard guard(A.device());
  const PreparedQuantize4bit p = prepare_quantize_4bit(A, blocksize, quant_type, quant_storage);
  gpu::check_launch("quantize_4bit", gpu::launch_quantize_4bit(p.args, gpu::current_stream(A)));
  return {p.packed_view(), p.absmax};
}

}  // namespace bnb::ops
