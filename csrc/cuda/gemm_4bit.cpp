// CUDA/HIP binding of bitsandbytes::gemm_4bit.
#include "../alloc.h"
#include "../ops.h"
#include "../prepare.h"
#include "gemm_4bit_run.h"

namespace bnb::ops {

at::Tensor gemm_4bit_cuda(const at::Tensor& A, const at::Tensor& B, c10::IntArrayRef shapeB, const at::Tensor& absmax,
                          int64_t blocksize, std::string_view quant_type, const std::optional<at::Tensor>& bias,
                          const std::optional<at::Tensor>& absmax_8bit, const std::optional<at::Tensor>& absmax_code,
                          const std::optional<at::Tensor>& absmax_offset) {
  constexpr const char* op = "gemm_4bit";
  const bnb::gpu::DeviceGuard guard(A.device());
  const QuantType qt = parse_quant_type(op, quant_type);
  to_dtype(op, "A", A.scalar_type());
  at::Tensor out = empty_gemm_4bit_output(op, A, B, shapeB);
  const PreparedGemm4bit p = prepare_gemm_4bit(op, A, B, shapeB, absmax, nullptr, blocksize, qt, bias, absmax_8bit,
                                               absmax_code, absmax_offset, out);
  gpu::run_gemm_4bit(op, p, out);
  return out;
}

}  // namespace bnb::ops
