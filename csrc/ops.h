// Declarations of the torch-facing entry points (one per op and backend).
// Schemas: csrc/registration.cpp. Each backend's register.cpp binds these.
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string_view>
#include <tuple>

namespace bnb::ops {

// ---- CPU ------------------------------------------------------------------
std::tuple<at::Tensor, at::Tensor> quantize_4bit_cpu(const at::Tensor& A, int64_t blocksize,
                                                     std::string_view quant_type, at::ScalarType quant_storage);
at::Tensor dequantize_4bit_cpu(const at::Tensor& A, const at::Tensor& absmax, int64_t blocksize,
                               std::string_view quant_type, c10::IntArrayRef shape, at::ScalarType dtype);
void dequantize_4bit_out_cpu(const at::Tensor& A, const at::Tensor& absmax, int64_t blocksize,
                             std::string_view quant_type, c10::IntArrayRef shape, at::ScalarType dtype,
                             const at::Tensor& out);
std::tuple<at::Tensor, at::Tensor> quantize_blockwise_cpu(const at::Tensor& A, const at::Tensor& code,
                                                          int64_t blocksize);
at::Tensor dequantize_blockwise_cpu(const at::Tensor& A, const at::Tensor& absmax, const at::Tensor& code,
                                    int64_t blocksize, at::ScalarType dtype);
void dequantize_blockwise_out_cpu(const at::Tensor& A, const at::Tensor& absmax, const at::Tensor& code,
                                  int64_t blocksize, at::ScalarType dtype, const at::Tensor& out);

// gemv_4bit / gemm_4bit (4-bit weight matmul)
at::Tensor gemv_4bit_cpu(const at::Tensor& A, const at::Tensor& B, c10::IntArrayRef shapeB, const at::Tensor& absmax,
                         const at::Tensor& code, int64_t blocksize);
void gemv_4bit_out_cpu(const at::Tensor& A, const at::Tensor& B, c10::IntArrayRef shapeB, const at::Tensor& absmax,
                       const at::Tensor& code, int64_t blocksize, const at::Tensor& out);
at::Tensor gemm_4bit_cpu(const at::Tensor& A, const at::Tensor& B, c10::IntArrayRef shapeB, const at::Tensor& absmax,
                         int64_t blocksize, std::string_view quant_type, const std::optional<at::Tensor>& bias,
                         const std::optional<at::Tensor>& absmax_8bit, const std::optional<at::Tensor>& absmax_code,
                         const std::optional<at::Tensor>& absmax_offset);

// ---- CUDA / HIP -------------------------------------------------------------
std::tuple<at::Tensor, at::Tensor> quantize_4bit_cuda(const at::Tensor& A, int64_t blocksize,
                                                      std::string_view quant_type, at::ScalarType quant_storage);
at::Tensor dequantize_4bit_cuda(const at::Tensor& A, const at::Tensor& absmax, int64_t blocksize,
                                std::string_view quant_type, c10::IntArrayRef shape, at::ScalarType dtype);
void dequantize_4bit_out_cuda(const at::Tensor& A, const at::Tensor& absmax, int64_t blocksize,
                              std::string_view quant_type, c10::IntArrayRef shape, at::ScalarType dtype,
                              const at::Tensor& out);
std::tuple<at::Tensor, at::Tensor> quantize_blockwise_cuda(const at::Tensor& A, const at::Tensor& code,
                                                           int64_t blocksize);
at::Tensor dequantize_blockwise_cuda(const at::Tensor& A, const at::Tensor& absmax, const at::Tensor& code,
                                     int64_t blocksize, at::ScalarType dtype);
void dequantize_blockwise_out_cuda(const at::Tensor& A, const at::Tensor& absmax, const at::Tensor& code,
                                   int64_t blocksize, at::ScalarType dtype, const at::Tensor& out);

// gemv_4bit / gemm_4bit (4-bit weight matmul)
at::Tensor gemv_4bit_cuda(const at::Tensor& A, const at::Tensor& B, c10::IntArrayRef shapeB, const at::Tensor& absmax,
                          const at::Tensor& code, int64_t blocksize);
void gemv_4bit_out_cuda(const at::Tensor& A, const at::Tensor& B, c10::IntArrayRef shapeB, const at::Tensor& absmax,
                        const at::Tensor& code, int64_t blocksize, const at::Tensor& out);
at::Tensor gemm_4bit_cuda(const at::Tensor& A, const at::Tensor& B, c10::IntArrayRef shapeB, const at::Tensor& absmax,
                          int64_t blocksize, std::string_view quant_type, const std::optional<at::Tensor>& bias,
                          const std::optional<at::Tensor>& absmax_8bit, const std::optional<at::Tensor>& absmax_code,
                          const std::optional<at::Tensor>& absmax_offset);

}  // namespace bnb::ops
