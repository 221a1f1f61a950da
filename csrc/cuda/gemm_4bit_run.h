// Runs a prepared 4-bit matmul on the GPU with the kernel choose_gemm_4bit_path
// picks (kernels/gemm_4bit_launchers.h); on the dequantize + GEMM path W is
// dequantized into A's dtype with the scales decoded inline and multiplied by
// the vendor GEMM.
#pragma once

#include <ATen/ATen.h>

#include "../prepare.h"
#include "device_arch.h"
#include "kernels/gemm_4bit_launchers.h"
#include "stream.h"

namespace bnb::gpu {

inline void run_gemm_4bit(const char* op, const PreparedGemm4bit& p, const at::Tensor& out) {
  const Gemm4bitArgs& a = p.args;
  if (a.M == 0 || a.N == 0) return;
  void* stream = current_stream(p.A);
  const Gemm4bitPath path = choose_gemm_4bit_path(a, fused_mode_from_env(), current_device_arch());
  if (path != Gemm4bitPath::kDequantGemm) {
    check_launch(op, launch_gemm_4bit(a, path, stream));
    return;
  }
  at::Tensor w = at::empty({a.N, a.K}, p.A.options());
  check_launch(op, launch_dequantize_4bit_weight(a, w.data_ptr(), stream));
  at::Tensor out2d = out.view({a.M, a.N});
  const at::Tensor A2d = p.A.view({a.M, a.K});
  if (p.bias.defined())
    at::addmm_out(out2d, p.bias.to(p.A.scalar_type()), A2d, w.t());
  else
    at::mm_out(out2d, A2d, w.t());
}

}  // namespace bnb::gpu
