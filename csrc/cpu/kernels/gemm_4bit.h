// 4-bit (NF4 / FP4) weight matmul, torch-free: out = A @ W.T (+ bias) for a
// packed 4-bit weight W [N, K] (see Gemm4bitArgs). The weight is decoded in
// registers or one cache-resident panel at a time, never materialised whole.
//
// A path runs in two steps: pack_a copies the batch rows of A into the layout
// the path's inner loop reads, then run computes the output columns
// [n_begin, n_end) of every batch row. Both steps may be split across threads
// (pack_a by batch rows in multiples of row_group, run by columns in multiples
// of column_group).
//
// Paths (gemm_4bit_path picks one per call from the SIMD level, A's dtype and
// the batch size M):
//  - scalar: the reference; every shape.
//  - avx2 / avx512 (M <= kFusedMaxBatch): fused, weights decoded in registers;
//    avx2 int16 (bf16 / fp16 A): the same in int16 arithmetic (vpmaddwd), A
//    packed to int16 per 64 columns.
//  - avx2 tiled / avx512 tiled (larger M): weights decoded once per panel into
//    fp32 and multiplied by a register-blocked micro-kernel.
//  - amx (bf16 A, M >= 4): weights decoded once per panel into bf16 and
//    multiplied by AMX tiles.
// The SIMD paths need K % blocksize == 0 (rows start on a block); other shapes
// take the scalar path.
#pragma once

#include <cstdint>

#include "../../common/args.h"
#include "../../common/format.h"
#include "../../common/half.h"

namespace bnb::cpu {

struct Gemm4bitPath {
  const char* name;
  int64_t (*workspace_bytes)(const Gemm4bitArgs& a);  // 0: run reads A directly, pack_a is a no-op
  void (*pack_a)(const Gemm4bitArgs& a, void* workspace, int64_t m_begin, int64_t m_end);
  void (*run)(const Gemm4bitArgs& a, const void* workspace, int64_t n_begin, int64_t n_end);
  // shapes the path handles (the others take the scalar path)
  bool (*supports)(const Gemm4bitArgs& a);
  // run's [n_begin, n_end) should be multiples of this (except at N)
  int64_t column_group;
  // pack_a's [m_begin, m_end) must be multiples of this (except at M)
  int64_t row_group;
};

// Largest batch the fused (register-decoding) fp32 paths take; larger batches take the tiled ones.
inline constexpr int64_t kFusedMaxBatch = 4;

const Gemm4bitPath& gemm_4bit_scalar_path();
const Gemm4bitPath* gemm_4bit_avx2_path();  // nullptr where not compiled (also below)
const Gemm4bitPath* gemm_4bit_avx2_tiled_path();
const Gemm4bitPath* gemm_4bit_avx2_int16_path();  // bf16 / fp16 A only
const Gemm4bitPath* gemm_4bit_avx512_path();
const Gemm4bitPath* gemm_4bit_avx512_tiled_path();
const Gemm4bitPath* gemm_4bit_amx_path();  // bf16 A only

// The path for these arguments at the active SIMD level (cpu_features.h).
const Gemm4bitPath& gemm_4bit_path(const Gemm4bitArgs& a);

// The scale of block j (plain or double-quantized absmax).
inline float gemm_4bit_block_scale(const Gemm4bitArgs& a, int64_t j) {
  if (a.absmax_8bit == nullptr) return a.absmax[j];
  return a.absmax_code[a.absmax_8bit[j]] * a.absmax[j / kNestedBlocksize] + *a.absmax_offset;
}

inline const float* gemm_4bit_code(const Gemm4bitArgs& a) {
  return a.code != nullptr ? a.code : code_table(a.quant_type).data();
}

}  // namespace bnb::cpu
