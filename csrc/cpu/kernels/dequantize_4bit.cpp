// Scalar reference path of 4-bit dequantization and the run-time path choice.
#include "dequantize_4bit.h"

#include <algorithm>

#include "../../common/dispatch.h"
#include "cpu_features.h"

namespace bnb::cpu {
namespace {

template <typename T>
void dequantize_blocks(const Dequantize4bitArgs& a, int64_t block_begin, int64_t block_end) {
  T* out = static_cast<T*>(a.out);
  const float* code = code_table(a.quant_type).data();
  for (int64_t b = block_begin; b < block_end; ++b) {
    T table[16];
    for (int i = 0; i < 16; ++i) table[i] = from_f32<T>(code[i] * a.absmax[b]);
    const int64_t start = b * a.blocksize;
    const int64_t end = std::min(start + a.blocksize, a.n);
    for (int64_t e = start; e < end; ++e) {
      const uint8_t byte = a.packed[e / 2];
      out[e] = table[(e & 1) ? low_nibble(byte) : high_nibble(byte)];
    }
  }
}

}  // namespace

void dequantize_4bit_scalar(const Dequantize4bitArgs& a, int64_t block_begin, int64_t block_end) {
  dispatch_dtype(a.dtype,
                 [&](auto tag) { dequantize_blocks<typename decltype(tag)::type>(a, block_begin, block_end); });
}

void dequantize_4bit(const Dequantize4bitArgs& a, int64_t block_begin, int64_t block_end) {
#if defined(BNB_HAVE_X86_KERNELS)
  select_kernel<Dequantize4bitFn>(dequantize_4bit_scalar, dequantize_4bit_avx2, dequantize_4bit_avx512)(a, block_begin,
                                                                                                        block_end);
#else
  dequantize_4bit_scalar(a, block_begin, block_end);
#endif
}

}  // namespace bnb::cpu
