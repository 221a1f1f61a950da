// Fused optimizer steps on the CPU, torch-free: 32-bit states over element
// ranges and 8-bit blockwise states over ranges of 256-element blocks. Each has
// a scalar reference path and AVX2 / AVX-512 paths chosen at run time; every
// path computes the same fp32 operations in the same order (bit-identical).
#pragma once

#include <cstdint>

#include "../../common/optimizer.h"

namespace bnb::cpu {

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
