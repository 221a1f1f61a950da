// CPU implementations of the bitsandbytes ops.
#include <torch/library.h>

#include "../ops.h"

TORCH_LIBRARY_IMPL(bitsandbytes, CPU, m) {
  m.impl("quantize_4bit", &bnb::ops::quantize_4bit_cpu);
  m.impl("dequantize_4bit", &bnb::ops::dequantize_4bit_cpu);
  m.impl("dequantize_4bit.out", &bnb::ops::dequantize_4bit_out_cpu);
  m.impl("quantize_blockwise", &bnb::ops::quantize_blockwise_cpu);
  m.impl("dequantize_blockwise", &bnb::ops::dequantize_blockwise_cpu);
  m.impl("dequantize_blockwise.out", &bnb::ops::dequantize_blockwise_out_cpu);
  // gemv_4bit / gemm_4bit
  m.impl("gemv_4bit", &bnb::ops::gemv_4bit_cpu);
  m.impl("gemv_4bit.out", &bnb::ops::gemv_4bit_out_cpu);
  m.impl("gemm_4bit", &bnb::ops::gemm_4bit_cpu);
  // optimizers
  m.impl("optimizer_update_32bit", &bnb::ops::optimizer_update_32bit_cpu);
  m.impl("optimizer_update_8bit_blockwise", &bnb::ops::optimizer_update_8bit_blockwise_cpu);
  // LLM.int8()
  m.impl("int8_vectorwise_quant", &bnb::ops::int8_vectorwise_quant_cpu);
  m.impl("int8_vectorwise_dequant", &bnb::ops::int8_vectorwise_dequant_cpu);
  m.impl("int8_double_quant", &bnb::ops::int8_double_quant_cpu);
  m.impl("int8_vectorwise_quant.mask", &bnb::ops::int8_vectorwise_quant_mask_cpu);
  m.impl("int8_double_quant.mask", &bnb::ops::int8_double_quant_mask_cpu);
  m.impl("int8_linear_matmul", &bnb::ops::int8_linear_matmul_cpu);
  m.impl("int8_linear_matmul.out", &bnb::ops::int8_linear_matmul_out_cpu);
  m.impl("int8_mm_dequant", &bnb::ops::int8_mm_dequant_cpu);
  m.impl("int8_scaled_mm", &bnb::ops::int8_scaled_mm_cpu);
  m.impl("int8_mixed_scaled_mm", &bnb::ops::int8_mixed_scaled_mm_cpu);
}

// Sparse gradients reach the optimizer ops through the sparse dispatch key; the
// bindings reject them with a clear error (instead of "no kernel for SparseCPU").
TORCH_LIBRARY_IMPL(bitsandbytes, SparseCPU, m) {
  m.impl("optimizer_update_32bit", &bnb::ops::optimizer_update_32bit_cpu);
  m.impl("optimizer_update_8bit_blockwise", &bnb::ops::optimizer_update_8bit_blockwise_cpu);
}
