// CPU binding of bitsandbytes::quantize_4bit.
#include "kernels/quantize_4bit.h"
#include "../ops.h"
#include "../prepare.h"
#include "parallel.h"

namespace bnb::ops {

std::tuple<at::Tensor, at::Tensor> quantize_4bit_cpu(const at::Tensor& A, int64_t blocksize,
                                                     std::string_view quant_type, at::ScalarType quant_storage) {
  const PreparedQuantize4bit p = prepare_quantize_4bit(A, blocksize, quant_type, quant_storage);
  cpu::parallel_over_blocks(p.absmax.numel(), blocksize,
                            [&](int64_t begin, int64_t end) { cpu::quantize_4bit(p.args, begin, end); });
  return {p.packed_view(), p.absmax};
}

}  // namespace bnb::ops
