// 8-bit blockwise quantization with a 256-entry code (the dynamic map by
// default), torch-free. Quantization reproduces the reference CPU bytes: the
// scaled value is snapped to the 65536-point grid of common/format.h and the
// grid point's nearest code is read from a prebuilt table.
#pragma once

#include <cstdint>

#include "../../common/format.h"
#include "../../common/args.h"
#include "../../common/half.h"

namespace bnb::cpu {

// kGridPoints entries plus padding so 4-byte gathers never read past the end.
inline constexpr int64_t kGridLutBytes = kGridPoints + 4;



using QuantizeBlockwiseFn = void (*)(const QuantizeBlockwiseArgs&, int64_t, int64_t);
using DequantizeBlockwiseFn = void (*)(const DequantizeBlockwiseArgs&, int64_t, int64_t);

void quantize_blockwise_scalar(const QuantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end);
void quantize_blockwise_avx2(const QuantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end);
void quantize_blockwise_avx512(const QuantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end);
void quantize_blockwise(const QuantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end);

void dequantize_blockwise_scalar(const DequantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end);
void dequantize_blockwise_avx2(const DequantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end);
void dequantize_blockwise_avx512(const DequantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end);
void dequantize_blockwise(const DequantizeBlockwiseArgs& a, int64_t block_begin, int64_t block_end);

}  // namespace bnb::cpu
