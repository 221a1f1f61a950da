// GPU LLM.int8() quantization and rescaling: outlier-column detection (one
// thread per column), the row pass (one block per row, shared-memory
// absmax), the column pass of double quant (one thread per column) and the
// element-wise rescales. Same arithmetic, in the same order, as the CPU kernels.
#include "common.cuh"
#include "int8_launchers.h"

namespace bnb::gpu {
namespace {

__device__ inline bool is_outlier(float v, float threshold) { return threshold > 0.0f && fabsf(v) >= threshold; }
__device__ inline float nan_max(float m, float v) { return (v > m || v != v) ? v : m; }
__device__ inline int8_t int8_round(float v) {
  if (v != v) return 0;
  float r = rintf(v);
  r = r > 127.0f ? 127.0f : (r < -128.0f ? -128.0f : r);
  return static_cast<int8_t>(r);
}

template <typename T>
__global__ void find_outliers_kernel(const T* __restrict__ x, int64_t rows, int64_t cols, float threshold,
                                     uint8_t* __restrict__ flags) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  uint8_t any = 0;
  for (int64_t r = 0; r < rows; ++r) any |= static_cast<uint8_t>(fabsf(to_f32(x[r * cols + c])) >= threshold);
  flags[c] = any;
}

template <typename T>
__global__ void quant_rows_kernel(const T* __restrict__ x, int64_t rows, int64_t cols, float threshold,
                                  const uint8_t* __restrict__ flags, int8_t* __restrict__ q,
                                  float* __restrict__ stats) {
  __shared__ float smax[kThreads];
  const int64_t r = blockIdx.x;
  const T* row = x + r * cols;
  float m = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += kThreads) {
    const float v = to_f32(row[c]);
    if (!is_outlier(v, threshold)) m = nan_max(m, fabsf(v));
  }
  m = block_reduce<kThreads>(m, smax, [](float a, float b) { return nan_max(a, b); });
  if (threadIdx.x == 0) stats[r] = m;
  const float scale = 127.0f * (1.0f / m);
  const bool zero_cols = flags != nullptr && rows > 1;
  for (int64_t c = threadIdx.x; c < cols; c += kThreads) {
    const float v = to_f32(row[c]);
    int8_t o = is_outlier(v, threshold) ? int8_t{0} : int8_round(v * scale);
    if (zero_cols && flags[c]) o = 0;
    q[r * cols + c] = o;
  }
}

template <typename T>
__global__ void quant_cols_kernel(const T* __restrict__ x, int64_t rows, int64_t cols, float threshold,
                                  int8_t* __restrict__ q, float* __restrict__ stats) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  float m = 0.0f;
  for (int64_t r = 0; r < rows; ++r) {
    const float v = to_f32(x[r * cols + c]);
    if (!is_outlier(v, threshold)) m = nan_max(m, fabsf(v));
  }
  stats[c] = m;
  for (int64_t r = 0; r < rows; ++r) {
    const float v = to_f32(x[r * cols + c]);
    q[r * cols + c] = is_outlier(v, threshold) ? int8_t{0} : int8_round(to_f32(from_f32<T>(v * 127.0f)) / m);
  }
}

__global__ void vectorwise_dequant_kernel(const int8_t* __restrict__ in, const float* __restrict__ stats, int64_t rows,
                                          int64_t cols, float* __restrict__ out) {
  const int64_t n = rows * cols;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = static_cast<float>(in[i]) * stats[i / cols] * kInt8DequantScale;
}

template <typename T>
__global__ void mm_dequant_kernel(const int32_t* __restrict__ in, int64_t rows, int64_t cols,
                                  const float* __restrict__ row_stats, const float* __restrict__ col_stats,
                                  const float* __restrict__ bias, T* __restrict__ out) {
  const int64_t n = rows * cols;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t c = i % cols;
    float v = static_cast<float>(in[i]) * (row_stats[i / cols] * col_stats[c]) * kInt8MmScale;
    if (bias) v = v + bias[c];
    out[i] = from_f32<T>(v);
  }
}

inline unsigned int blocks_for(int64_t n) { return static_cast<unsigned int>((n + kThreads - 1) / kThreads); }

}  // namespace

const char* launch_int8_find_outlier_cols(const Int8QuantArgs& a, uint8_t* flags, void* stream) {
  if (a.cols == 0) return nullptr;
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(find_outliers_kernel<T>, blocks_for(a.cols), kThreads, 0, static_cast<gpuStream_t>(stream),
           static_cast<const T*>(a.input), a.rows, a.cols, a.threshold, flags);
  });
  return launch_status();
}

const char* launch_int8_quant(const Int8QuantArgs& a, void* stream) {
  if (a.rows == 0 || a.cols == 0) return nullptr;
  if (a.rows > 0x7FFFFFFF) return "too many rows for one launch";
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = static_cast<const T*>(a.input);
    launch(quant_rows_kernel<T>, static_cast<unsigned int>(a.rows), kThreads, 0, static_cast<gpuStream_t>(stream), x,
           a.rows, a.cols, a.threshold, a.outlier_cols, a.row_q, a.row_stats);
    if (a.col_q)
      launch(quant_cols_kernel<T>, blocks_for(a.cols), kThreads, 0, static_cast<gpuStream_t>(stream), x, a.rows, a.cols,
             a.threshold, a.col_q, a.col_stats);
  });
  return launch_status();
}

const char* launch_int8_vectorwise_dequant(const Int8VectorDequantArgs& a, void* stream) {
  if (a.rows * a.cols == 0) return nullptr;
  launch(vectorwise_dequant_kernel, grid_for(a.rows * a.cols), kThreads, 0, static_cast<gpuStream_t>(stream), a.in,
         a.stats, a.rows, a.cols, a.out);
  return launch_status();
}

const char* launch_int8_mm_dequant(const Int8MmDequantArgs& a, void* stream) {
  if (a.rows * a.cols == 0) return nullptr;
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(mm_dequant_kernel<T>, grid_for(a.rows * a.cols), kThreads, 0, static_cast<gpuStream_t>(stream), a.in, a.rows,
           a.cols, a.row_stats, a.col_stats, a.bias, static_cast<T*>(a.out));
  });
  return launch_status();
}

}  // namespace bnb::gpu
