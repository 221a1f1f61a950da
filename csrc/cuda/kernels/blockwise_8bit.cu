// GPU 8-bit blockwise quantization (one thread block per quantization block,
// nearest code by binary search in shared memory, ties to the lower index) and
// dequantization (grid-stride).
#include "common.cuh"
#include "launchers.h"

namespace bnb::gpu {
namespace {

// Index of the code nearest to s; `code` is sorted ascending. NaN -> 0.
__device__ inline uint8_t nearest_code(const float* code, float s) {
  if (s != s) return 0;
  int lo = 0, hi = 256;  // first index with code[idx] >= s
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (code[mid] < s)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0) return 0;
  if (lo == 256) return 255;
  return static_cast<uint8_t>(fabsf(code[lo] - s) < fabsf(s - code[lo - 1]) ? lo : lo - 1);
}

template <typename T>
__global__ void quantize_blockwise_kernel(const T* __restrict__ x, int64_t n, int64_t blocksize,
                                          const float* __restrict__ code, uint8_t* __restrict__ out,
                                          float* __restrict__ absmax) {
  __shared__ float scode[256];
  __shared__ float smax[kThreads];
  for (int i = threadIdx.x; i < 256; i += kThreads) scode[i] = code[i];
  const int64_t b = blockIdx.x;
  const int64_t start = b * blocksize;
  const int64_t len = n - start < blocksize ? n - start : blocksize;
  float m = 0.0f;
  for (int64_t i = threadIdx.x; i < len; i += kThreads) {
    const float v = fabsf(to_f32(x[start + i]));
    m = v > m ? v : m;  // skips NaN
  }
  m = block_reduce<kThreads>(m, smax, [](float a, float c) { return a > c ? a : c; });  // also syncs scode
  if (threadIdx.x == 0) absmax[b] = m;
  const float inv = 1.0f / m;
  for (int64_t i = threadIdx.x; i < len; i += kThreads)
    out[start + i] = nearest_code(scode, to_f32(x[start + i]) * inv);
}

template <typename T>
__global__ void dequantize_blockwise_kernel(const uint8_t* __restrict__ in, const float* __restrict__ code,
                                            const float* __restrict__ absmax, int64_t n, int64_t blocksize,
                                            T* __restrict__ out) {
  __shared__ float scode[256];
  for (int i = threadIdx.x; i < 256; i += blockDim.x) scode[i] = code[i];
  __syncthreads();
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = from_f32<T>(scode[in[i]] * absmax[i / blocksize]);
}

}  // namespace

const char* launch_quantize_blockwise(const QuantizeBlockwiseArgs& a, void* stream) {
  const int64_t blocks = num_blocks(a.n, a.blocksize);
  if (blocks == 0) return nullptr;
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(quantize_blockwise_kernel<T>, static_cast<unsigned int>(blocks), kThreads, 0,
           static_cast<gpuStream_t>(stream), static_cast<const T*>(a.input), a.n, a.blocksize, a.code, a.out, a.absmax);
  });
  return launch_status();
}

const char* launch_dequantize_blockwise(const DequantizeBlockwiseArgs& a, void* stream) {
  if (a.n == 0) return nullptr;
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(dequantize_blockwise_kernel<T>, grid_for(a.n), kThreads, 0, static_cast<gpuStream_t>(stream), a.in, a.code,
           a.absmax, a.n, a.blocksize, static_cast<T*>(a.out));
  });
  return launch_status();
}

}  // namespace bnb::gpu
