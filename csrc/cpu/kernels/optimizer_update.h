// Fused optimizer steps on the CPU, torch-free: 32-bit states over element
// ranges and 8-bit blockwise states over ranges of 256-element blocks. Each has
// a scalar reference path and AVX2 / AVX-512 paths chosen at run time; every
// path computes the same fp32 operations in the same order (bit-identical).
#pragma once

#include <cstdint>

#include "../../common/optimizer.h"

namespace bnb::cpu {

// Exact bucket lookup of nearest_code() for the 8-bit requantization, valid for
// any sorted map. x is bucketed by the top bits of its fp32 magnitude (sign,
// exponent, the top 23 - shift mantissa bits; magnitudes below bucket c_lo or
// above c_hi share the edge buckets). The map's midpoints are chosen so that a
// bucket holds at most one midpoint (an edge bucket none), so the count of
// midpoints below x is the bucket's count plus one comparison of the low bits
// of x's order key (-1 - bits for negatives) with those of that midpoint.
// entry = (midpoints below the bucket << 24) | the midpoint's low key bits
// (all ones when it holds none). NaN goes to code 0, as in nearest_code(). For a
// signed map (zero >= 0) the entries include fix_sign(), and +-0 take zero_code.
struct CodeBuckets {
  static constexpr int kMaxEntries = 8192;
  bool ok;    // false: no table fits, use the binary search
  int shift;  // low key bits compared inside a bucket
  int c_lo, c_hi;
  int zero;       // the signed map's zero index, or -1
  int zero_code;  // the code of +-0 when zero >= 0
  // negative buckets (c_hi ... c_lo), then positive ones (c_lo ... c_hi)
  alignas(64) uint32_t entry[kMaxEntries];
};

// Builds the table of the 255 sorted midpoints of a map (cheap: a few thousand
// entries); zero: signed_zero_index() of the map, or -1 (no sign fix).
void build_code_buckets(const float* mids, int zero, CodeBuckets& t);
// fix_sign(nearest_code(mids, x), zero, x) through the table (t.ok); the
// reference of the SIMD lookups.
int bucket_nearest_code(const CodeBuckets& t, float x);
// nearest_code() then fix_sign() of n values through the AVX2 / AVX-512 table lookup (tests).
void nearest_codes_avx2(const float* mids, int zero, const float* x, int64_t n, uint8_t* q);
void nearest_codes_avx512(const float* mids, int zero, const float* x, int64_t n, uint8_t* q);
// Whether the AVX-512 8-bit path dequantizes with VBMI byte permutes (default: if
// the CPU has VBMI; tests switch it off to check the permute-free fallback).
bool& optimizer_avx512_vbmi();

using OptimizerUnormFn = double (*)(const Optimizer32bitArgs&, int64_t, int64_t);
using Optimizer32bitFn = void (*)(const Optimizer32bitArgs&, int64_t, int64_t);
using Optimizer8bitFn = void (*)(const Optimizer8bitArgs&, int64_t, int64_t);

// sum(u^2) of the update directions of elements [begin, end) (states untouched).
double optimizer_32bit_unorm_scalar(const Optimizer32bitArgs& a, int64_t begin, int64_t end);
double optimizer_32bit_unorm_avx2(const Optimizer32bitArgs& a, int64_t begin, int64_t end);
double optimizer_32bit_unorm_avx512(const Optimizer32bitArgs& a, int64_t begin, int64_t end);
double optimizer_32bit_unorm(const Optimizer32bitArgs& a, int64_t begin, int64_t end);

// One step of elements [begin, end); scale = the trust ratio (1 without max_unorm).
void optimizer_32bit_scalar(const Optimizer32bitArgs& a, int64_t begin, int64_t end);
void optimizer_32bit_avx2(const Optimizer32bitArgs& a, int64_t begin, int64_t end);
void optimizer_32bit_avx512(const Optimizer32bitArgs& a, int64_t begin, int64_t end);
void optimizer_32bit(const Optimizer32bitArgs& a, int64_t begin, int64_t end);

// One step of 256-element blocks [block_begin, block_end).
void optimizer_8bit_blockwise_scalar(const Optimizer8bitArgs& a, int64_t block_begin, int64_t block_end);
void optimizer_8bit_blockwise_avx2(const Optimizer8bitArgs& a, int64_t block_begin, int64_t block_end);
void optimizer_8bit_blockwise_avx512(const Optimizer8bitArgs& a, int64_t block_begin, int64_t block_end);
void optimizer_8bit_blockwise(const Optimizer8bitArgs& a, int64_t block_begin, int64_t block_end);

}  // namespace bnb::cpu
