// Scalar reference paths of 8-bit blockwise (de)quantization and the run-time
// path choice.
#include <algorithm>

#include "../../common/dispatch.h"
#include "blockwise_8bit.h"
#include "cpu_features.h"

namespace bnb::cpu {
namespace {

template <typename T>
void quantize_blocks(const QuantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end) {
  const T* x = static_cast<const T*>(a.input);
  for (int64_t b = block_begin; b < block_end; ++b) {
    const int64_t start = b * a.blocksize;
    const int64_t end = std::min(start + a.blocksize, a.n);
    float amax = 0.0f;
    for (int64_t i = start; i < end; ++i) {
      const float v = std::fabs(to_f32(x[i]));
      amax = v > amax ? v : amax;  // skips NaN
    }
    a.absmax[b] = amax;
    const float inv = 1.0f / amax;
    for (int64_t i = start; i < end; ++i) a.out[i] = a.grid_lut[grid_index(to_f32(x[i]) * inv)];
  }
}

template <typename T>
void dequantize_blocks(const DequantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end) {
  T* out = static_cast<T*>(a.out);
  for (int64_t b = block_begin; b < block_end; ++b) {
    const int64_t start = b * a.blocksize;
    const int64_t end = std::min(start + a.blocksize, a.n);
    const float s = a.absmax[b];
    for (int64_t i = start; i < end; ++i) out[i] = from_f32<T>(a.code[a.in[i]] * s);
  }
}

}  // namespace

void quantize_blockwise_scalar(const QuantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end) {
  dispatch_dtype(a.dtype, [&](auto tag) { quantize_blocks<typename decltype(tag)::type>(a, block_begin, block_end); });
}

void dequantize_blockwise_scalar(const DequantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end) {
  dispatch_dtype(a.dtype,
                 [&](auto tag) { dequantize_blocks<typename decltype(tag)::type>(a, block_begin, block_end); });
}

void quantize_blockwise(const QuantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end) {
#if defined(BNB_HAVE_X86_KERNELS)
  select_kernel<QuantizeBlockwiseFn>(quantize_blockwise_scalar, quantize_blockwise_avx2, quantize_blockwise_avx512)(
      a, block_begin, block_end);
#else
  quantize_blockwise_scalar(a, block_begin, block_end);
#endif
}

void dequantize_blockwise(const DequantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end) {
#if defined(BNB_HAVE_X86_KERNELS)
  select_kernel<DequantizeBlockwiseFn>(dequantize_blockwise_scalar, dequantize_blockwise_avx2,
                                       dequantize_blockwise_avx512)(a, block_begin, block_end);
#else
  dequantize_blockwise_scalar(a, block_begin, block_end);
#endif
}

}  // namespace bnb::cpu
