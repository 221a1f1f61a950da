// CUDA (and HIP) implementations of the bitsandbytes ops.
#include <torch/library.h>

#include "../ops.h"

TORCH_LIBRARY_IMPL(bitsandbytes, CUDA, m) {
  m.impl("quantize_4bit", &bnb::ops::quantize_4bit_cuda);
  m.impl("dequantize_4bit", &bnb::ops::dequantize_4bit_cuda);
  m.impl("dequantize_4bit.out", &bnb::ops::dequantize_4bit_out_cuda);
  m.impl("quantize_blockwise", &bnb::ops::quantize_blockwise_cuda);
  m.impl("dequantize_blockwise", &bnb::ops::dequantize_blockwise_cuda);
  m.impl("dequantize_blockwise.out", &bnb::ops::dequantize_blockwise_out_cuda);
  // LLM.int8() (issue 5)
  m.impl("int8_vectorwise_quant", &bnb::ops::int8_vectorwise_quant_cuda);
  m.impl("int8_vectorwise_dequant", &bnb::ops::int8_vectorwise_dequant_cuda);
  m.impl("int8_double_quant", &bnb::ops::int8_double_quant_cuda);
  m.impl("int8_vectorwise_quant.mask", &bnb::ops::int8_vectorwise_quant_mask_cuda);
  m.impl("int8_double_quant.mask", &bnb::ops::int8_double_quant_mask_cuda);
  m.impl("int8_linear_matmul", &bnb::ops::int8_linear_matmul_cuda);
  m.impl("int8_linear_matmul.out", &bnb::ops::int8_linear_matmul_out_cuda);
  m.impl("int8_mm_dequant", &bnb::ops::int8_mm_dequant_cuda);
  m.impl("int8_scaled_mm", &bnb::ops::int8_scaled_mm_cuda);
  m.impl("int8_mixed_scaled_mm", &bnb::ops::int8_mixed_scaled_mm_cuda);
  // optimizers
  m.impl("optimizer_update_32bit", &bnb::ops::optimizer_update_32bit_cuda);
  m.impl("optimizer_update_8bit_blockwise", &bnb::ops::optimizer_update_8bit_blockwise_cuda);
  // gemv_4bit / gemm_4bit
  m.impl("gemv_4bit", &bnb::ops::gemv_4bit_cuda);
  m.impl("gemv_4bit.out", &bnb::ops::gemv_4bit_out_cuda);
  m.impl("gemm_4bit", &bnb::ops::gemm_4bit_cuda);
}

// Sparse gradients: the bindings reject them with a clear error.
TORCH_LIBRARY_IMPL(bitsandbytes, SparseCUDA, m) {
  m.impl("optimizer_update_32bit", &bnb::ops::optimizer_update_32bit_cuda);
  m.impl("optimizer_update_8bit_blockwise", &bnb::ops::optimizer_update_8bit_blockwise_cuda);
}
