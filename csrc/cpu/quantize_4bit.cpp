// CPU binding of bitsandbytes::quantize_4bit.
#include "../checks.h"
#include "../ops.h"
#include "kernels/quantize_4bit.h"
#include "parallel.h"

namespace bnb::ops {

std::tuple<at::Tensor, at::Tensor> quantize_4bit_cpu(const at::Tensor& A, int64_t blocksize,
                                                     std::string_view quant_type, at::ScalarType quant_storage) {
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
  const at::Tensor input = A.contiguous();
  at::Tensor packed = at::empty({nbytes}, A.options().dtype(at::kByte));
  at::Tensor absmax = at::empty({num_blocks(n, blocksize)}, A.options().dtype(at::kFloat));
  const cpu::Quantize4bitArgs args{input.data_ptr(), dtype,         n, blocksize, qt, packed.data_ptr<uint8_t>(),
                                   absmax.data_ptr<float>()};
  cpu::parallel_over_blocks(absmax.numel(), blocksize,
                            [&](int64_t begin, int64_t end) { cpu::quantize_4bit(args, begin, end); });
  return {packed.view(quant_storage).view({nbytes / itemsize, 1}), absmax};
}

}  // namespace bnb::ops
