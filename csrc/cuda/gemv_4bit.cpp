// CUDA/HIP binding of bitsandbytes::gemv_4bit (and .out).
#include "../alloc.h"
#include "../ops.h"
#include "../prepare.h"
#include "gemm_4bit_run.h"

namespace bnb::ops {

void gemv_4bit_out_cuda(const at::Tensor& A, const at::Tensor& B, c10::IntArrayRef shapeB, const at::Tensor& absmax,
                        const at::Tensor& code, int64_t blocksize, const at::Tensor& out) {
  const bnb::gpu::DeviceGuard guard(A.device());
  const PreparedGemm4bit p = prepare_gemv_4bit(A, B, shapeB, absmax, code, blocksize, out);
  gpu::run_gemm_4bit("gemv_4bit", p, out);
}

at::Tensor gemv_4bit_cuda(const at::Tensor& A, const at::Tensor& B, c10::IntArrayRef shapeB, const at::Tensor& absmax,
                          const at::Tensor& code, int64_t blocksize) {
  to_dtype("gemv_4bit", "A", A.scalar_type());
  at::Tensor out = empty_gemm_4bit_output("gemv_4bit", A, B, shapeB);
  gemv_4bit_out_cuda(A, B, shapeB, absmax, code, blocksize, out);
  return out;
}

}  // namespace bnb::ops
