// The bitsandbytes op library: every schema, defined once for every backend.
// Implementations register per backend in csrc/<backend>/register.cpp; fake
// (meta) implementations for torch.compile live in python/bitsandbytes/_ops.py.
#include <torch/library.h>

TORCH_LIBRARY(bitsandbytes, m) {
  // 4-bit blockwise NF4/FP4: packed bytes (viewed as quant_storage) and fp32 absmax per block.
  m.def("quantize_4bit(Tensor A, int blocksize, str quant_type, ScalarType quant_storage) -> (Tensor, Tensor)");
  // Inverse of quantize_4bit: code[nibble] * absmax, cast to dtype, shaped as `shape`.
  m.def(
      "dequantize_4bit(Tensor A, Tensor absmax, int blocksize, str quant_type, int[] shape, ScalarType dtype) -> "
      "Tensor");
  // dequantize_4bit into a preallocated `out`.
  m.def(
      "dequantize_4bit.out(Tensor A, Tensor absmax, int blocksize, str quant_type, int[] shape, ScalarType dtype, "
      "Tensor! out) -> ()");
  // 8-bit blockwise quantization with a 256-entry code: uint8 in A's shape, fp32 absmax per block.
  m.def("quantize_blockwise(Tensor A, Tensor code, int blocksize) -> (Tensor, Tensor)");
  // code[A] * absmax, cast to dtype.
  m.def("dequantize_blockwise(Tensor A, Tensor absmax, Tensor code, int blocksize, ScalarType dtype) -> Tensor");
  // dequantize_blockwise into a preallocated `out`.
  m.def(
      "dequantize_blockwise.out(Tensor A, Tensor absmax, Tensor code, int blocksize, ScalarType dtype, Tensor! out) -> "
      "()");
  // A @ dequantize_4bit(B).T for a 4-bit weight B of logical shape shapeB = [N, K]; output (*A.shape[:-1], N).
  m.def("gemv_4bit(Tensor A, Tensor B, int[] shapeB, Tensor absmax, Tensor code, int blocksize) -> Tensor");
  // gemv_4bit into a preallocated `out`.
  m.def(
      "gemv_4bit.out(Tensor A, Tensor B, int[] shapeB, Tensor absmax, Tensor code, int blocksize, Tensor! out) -> ()");
  // A @ W.T (+ bias) for a 4-bit weight, any batch; nested absmax arguments avoid materialising the fp32 absmax.
  m.def(
      "gemm_4bit(Tensor A, Tensor B, int[] shapeB, Tensor absmax, int blocksize, str quant_type, Tensor? bias=None, "
      "Tensor? absmax_8bit=None, Tensor? absmax_code=None, Tensor? absmax_offset=None) -> Tensor");
  // LLM.int8(): row-wise absmax int8 quantization; columns with |x| >= threshold are reported and zeroed.
  m.def("int8_vectorwise_quant(Tensor A, float threshold=0.0) -> (Tensor, Tensor, Tensor?)");
  // int8_vectorwise_quant with the outlier columns as a bool mask over A's columns (no host round trip on GPUs).
  m.def("int8_vectorwise_quant.mask(Tensor A, float threshold=0.0) -> (Tensor, Tensor, Tensor?)");
  // int8 rows back to fp32: A * stats[:, None] / 127.
  m.def("int8_vectorwise_dequant(Tensor A, Tensor stats) -> Tensor");
  // int32 A @ B.T for int8 A [.., K] and B [N, K].
  m.def("int8_linear_matmul(Tensor A, Tensor B) -> Tensor");
  // int8_linear_matmul into a preallocated int32 `out`.
  m.def("int8_linear_matmul.out(Tensor A, Tensor B, Tensor! out) -> ()");
  // Rescale an int32 product: A * row_stats[:, None] * col_stats[None, :] / 127^2 (+ bias).
  m.def(
      "int8_mm_dequant(Tensor A, Tensor row_stats, Tensor col_stats, ScalarType? dtype=None, Tensor? bias=None) -> "
      "Tensor");
  // int8 matmul with the rescale (and bias) fused: (A @ B.T) * row_stats * col_stats / 127^2.
  m.def(
      "int8_scaled_mm(Tensor A, Tensor B, Tensor row_stats, Tensor col_stats, Tensor? bias=None, ScalarType? "
      "dtype=None) -> Tensor");
  // LLM.int8() mixed decomposition: int8 part plus the 16-bit outlier columns; returns (out, dequantized outlier
  // weights). outlier_cols: int64 column indices, or a bool mask over the columns (then no second output and, on
  // GPUs, no host round trip).
  m.def(
      "int8_mixed_scaled_mm(Tensor A, Tensor CA, Tensor CB, Tensor SCA, Tensor SCB, Tensor? outlier_cols=None, Tensor? "
      "bias=None) -> (Tensor, Tensor?)");
  // Row-wise and column-wise int8 quantization: (row_q, col_q, row_stats, col_stats, outlier_cols).
  m.def("int8_double_quant(Tensor A, float threshold=0.0) -> (Tensor, Tensor, Tensor, Tensor, Tensor?)");
  // int8_double_quant with the outlier columns as a bool mask over A's columns (no host round trip on GPUs).
  m.def("int8_double_quant.mask(Tensor A, float threshold=0.0) -> (Tensor, Tensor, Tensor, Tensor, Tensor?)");
  // One fused 32-bit optimizer step (adam, momentum, rmsprop, adagrad, lion, ademamix, lamb, lars) in place.
  m.def(
      "optimizer_update_32bit(str optimizer_name, Tensor(a0!) g, Tensor(a1!) p, Tensor(a2!) state1, Tensor(a3!)? "
      "state2, Tensor(a4!)? unorm_vec, float max_unorm, float param_norm, float beta1, float beta2, float beta3, float "
      "alpha, float eps, float weight_decay, int step, float lr, float gnorm_scale, bool skip_zeros=False) -> ()");
  // One fused 8-bit blockwise optimizer step: dequantize states, update, requantize, in place.
  m.def(
      "optimizer_update_8bit_blockwise(str optimizer_name, Tensor(a0!) g, Tensor(a1!) p, Tensor(a2!) state1, "
      "Tensor(a3!)? state2, float beta1, float beta2, float beta3, float alpha, float eps, int step, float lr, "
      "Tensor(a4!) qmap1, Tensor(a5!)? qmap2, Tensor(a6!) absmax1, Tensor(a7!)? absmax2, float weight_decay, float "
      "gnorm_scale, bool skip_zeros=False) -> ()");
}
