// Scalar reference path of 4-bit quantization and the run-time path choice.
#include "quantize_4bit.h"

#include <algorithm>
#include <cmath>

#include "../../common/dispatch.h"
#include "cpu_features.h"

namespace bnb::cpu {
namespace {

template <typename T>
void quantize_blocks(const Quantize4bitArgs& a, int64_t block_begin, int64_t block_end) {
  const T* x = static_cast<const T*>(a.input);
  const float* mids = midpoint_table(a.quant_type).data();
  const uint8_t* to_code = sorted_to_code_table(a.quant_type).data();
  for (int64_t b = block_begin; b < block_end; ++b) {
    const int64_t start = b * a.blocksize;
    const int64_t len = std::min(a.blocksize, a.n - start);
    float amax = 0.0f;
    for (int64_t i = 0; i < len; ++i) {
      const float v = std::fabs(to_f32(x[start + i]));
      if (v != v) {
        amax = f32_from_bits(0x7FC00000u);
        break;
      }
      amax = v > amax ? v : amax;
    }
    a.absmax[b] = stored_4bit_absmax(amax, len, a.blocksize);
    const float clamped = clamp_4bit_absmax(amax);
    const float inv = 1.0f / clamped;
    const bool partial = len != a.blocksize;
    auto code_of = [&](float v) {
      return to_code[nearest_4bit_sorted_position(scale_4bit(v, clamped, inv, partial), mids)];
    };
    uint8_t* out = a.packed + start / 2;
    int64_t i = 0;
    for (; i + 1 < len; i += 2)
      out[i / 2] = pack_nibbles(code_of(to_f32(x[start + i])), code_of(to_f32(x[start + i + 1])));
    if (i < len) out[i / 2] = pack_nibbles(code_of(to_f32(x[start + i])), zero_code(a.quant_type));  // odd tail
  }
}

}  // namespace

void quantize_4bit_scalar(const Quantize4bitArgs& a, int64_t block_begin, int64_t block_end) {
  dispatch_dtype(a.dtype, [&](auto tag) { quantize_blocks<typename decltype(tag)::type>(a, block_begin, block_end); });
}

void quantize_4bit(const Quantize4bitArgs& a, int64_t block_begin, int64_t block_end) {
#if defined(BNB_HAVE_X86_KERNELS)
  select_kernel<Quantize4bitFn>(quantize_4bit_scalar, quantize_4bit_avx2, quantize_4bit_avx512)(a, block_begin,
                                                                                                block_end);
#else
  quantize_4bit_scalar(a, block_begin, block_end);
#endif
}

}  // namespace bnb::cpu
