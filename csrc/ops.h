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
// ---- optimizers (CPU) -------------------------------------------------------
void optimizer_update_32bit_cpu(std::string_view optimizer_name, const at::Tensor& g, const at::Tensor& p,
                                const at::Tensor& state1, const std::optional<at::Tensor>& state2,
                                const std::optional<at::Tensor>& unorm_vec, double max_unorm, double param_norm,
                                double beta1, double beta2, double beta3, double alpha, double eps, double weight_decay,
                                int64_t step, double lr, double gnorm_scale, bool skip_zeros);
void optimizer_update_8bit_blockwise_cpu(std::string_view optimizer_name, const at::Tensor& g, const at::Tensor& p,
                                         const at::Tensor& state1, const std::optional<at::Tensor>& state2,
                                         double beta1, double beta2, double beta3, double alpha, double eps,
                                         int64_t step, double lr, const at::Tensor& qmap1,
                                         const std::optional<at::Tensor>& qmap2, const at::Tensor& absmax1,
                                         const std::optional<at::Tensor>& absmax2, double weight_decay,
                                         double gnorm_scale, bool skip_zeros);

// ---- optimizers (CUDA / HIP) --------------------------------------------------
void optimizer_update_32bit_cuda(std::string_view optimizer_name, const at::Tensor& g, const at::Tensor& p,
                                 const at::Tensor& state1, const std::optional<at::Tensor>& state2,
                                 const std::optional<at::Tensor>& unorm_vec, double max_unorm, double param_norm,
                                 double beta1, double beta2, double beta3, double alpha, double eps,
                                 double weight_decay, int64_t step, double lr, double gnorm_scale, bool skip_zeros);
void optimizer_update_8bit_blockwise_cuda(std::string_view optimizer_name, const at::Tensor& g, const at::Tensor& p,
                                          const at::Tensor& state1, const std::optional<at::Tensor>& state2,
                                          double beta1, double beta2, double beta3, double alpha, double eps,
                                          int64_t step, double lr, const at::Tensor& qmap1,
                                          const std::optional<at::Tensor>& qmap2, const at::Tensor& absmax1,
                                          const std::optional<at::Tensor>& absmax2, double weight_decay,
                                          double gnorm_scale, bool skip_zeros);
// ---- CPU: LLM.int8() (issue 5) --------------------------------------------
std::tuple<at::Tensor, at::Tensor, std::optional<at::Tensor>> int8_vectorwise_quant_cpu(const at::Tensor& A,
                                                                                        double threshold);
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, std::optional<at::Tensor>> int8_double_quant_cpu(
    const at::Tensor& A, double threshold);
std::tuple<at::Tensor, at::Tensor, std::optional<at::Tensor>> int8_vectorwise_quant_mask_cpu(const at::Tensor& A,
                                                                                             double threshold);
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, std::optional<at::Tensor>> int8_double_quant_mask_cpu(
    const at::Tensor& A, double threshold);
at::Tensor int8_vectorwise_dequant_cpu(const at::Tensor& A, const at::Tensor& stats);
at::Tensor int8_linear_matmul_cpu(const at::Tensor& A, const at::Tensor& B);
void int8_linear_matmul_out_cpu(const at::Tensor& A, const at::Tensor& B, const at::Tensor& out);
at::Tensor int8_mm_dequant_cpu(const at::Tensor& A, const at::Tensor& row_stats, const at::Tensor& col_stats,
                               std::optional<at::ScalarType> dtype, const std::optional<at::Tensor>& bias);
at::Tensor int8_scaled_mm_cpu(const at::Tensor& A, const at::Tensor& B, const at::Tensor& row_stats,
                              const at::Tensor& col_stats, const std::optional<at::Tensor>& bias,
                              std::optional<at::ScalarType> dtype);
std::tuple<at::Tensor, std::optional<at::Tensor>> int8_mixed_scaled_mm_cpu(
    const at::Tensor& A, const at::Tensor& CA, const at::Tensor& CB, const at::Tensor& SCA, const at::Tensor& SCB,
    const std::optional<at::Tensor>& outlier_cols, const std::optional<at::Tensor>& bias);

// ---- CUDA / HIP: LLM.int8() (issue 5) -------------------------------------
std::tuple<at::Tensor, at::Tensor, std::optional<at::Tensor>> int8_vectorwise_quant_cuda(const at::Tensor& A,
                                                                                         double threshold);
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, std::optional<at::Tensor>> int8_double_quant_cuda(
    const at::Tensor& A, double threshold);
std::tuple<at::Tensor, at::Tensor, std::optional<at::Tensor>> int8_vectorwise_quant_mask_cuda(const at::Tensor& A,
                                                                                              double threshold);
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, std::optional<at::Tensor>> int8_double_quant_mask_cuda(
    const at::Tensor& A, double threshold);
// out2d [M, N] += A2 [M, K] @ dequant(CB, SCB)[:, mask].T in A2's dtype, on the device (int8_mixed_scaled_mm).
void int8_outlier_mm_cuda(const at::Tensor& A2, const at::Tensor& CB, const at::Tensor& SCB, const at::Tensor& mask,
                          const at::Tensor& out2d);
at::Tensor int8_vectorwise_dequant_cuda(const at::Tensor& A, const at::Tensor& stats);
at::Tensor int8_linear_matmul_cuda(const at::Tensor& A, const at::Tensor& B);
void int8_linear_matmul_out_cuda(const at::Tensor& A, const at::Tensor& B, const at::Tensor& out);
at::Tensor int8_mm_dequant_cuda(const at::Tensor& A, const at::Tensor& row_stats, const at::Tensor& col_stats,
                                std::optional<at::ScalarType> dtype, const std::optional<at::Tensor>& bias);
at::Tensor int8_scaled_mm_cuda(const at::Tensor& A, const at::Tensor& B, const at::Tensor& row_stats,
                               const at::Tensor& col_stats, const std::optional<at::Tensor>& bias,
                               std::optional<at::ScalarType> dtype);
std::tuple<at::Tensor, std::optional<at::Tensor>> int8_mixed_scaled_mm_cuda(
    const at::Tensor& A, const at::Tensor& CA, const at::Tensor& CB, const at::Tensor& SCA, const at::Tensor& SCB,
    const std::optional<at::Tensor>& outlier_cols, const std::optional<at::Tensor>& bias);

}  // namespace bnb::ops
