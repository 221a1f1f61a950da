// AVX-512 paths of the 4-bit matmul, fp32 arithmetic (A of any dtype): the
// fused kernel (few batch rows) and the tiled one, from gemm_4bit_fp32.h. A
// step is 32 weight columns: 16 packed bytes widened to 16 dword lanes
// (vpmovzxbd), the high nibbles shifted down (vpsrld), each vector looked up
// with one vpermps in the block's 16-entry fp32 table (which ignores the bits
// above the low 4). 32 zmm registers: 4 weight rows per fused tile, 12 x 32 or
// 24 x 16 accumulators per micro-kernel tile.
#include <immintrin.h>

#include <type_traits>

#include "gemm_4bit.h"
#include "simd_avx512.h"

namespace bnb::cpu {
namespace {

struct Isa {
  using vec = __m512;
  static constexpr int L = 16;
  template <int MR>
  static constexpr int kFusedRows = 4;
  template <int MV>
  static constexpr int kTileRows = MV == 2 ? 12 : 24;

  static vec zero() { return _mm512_setzero_ps(); }
  static vec load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, vec v) { _mm512_storeu_ps(p, v); }
  static vec set1(float x) { return _mm512_set1_ps(x); }
  static vec fmadd(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
  static vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
  static float hsum(vec v) { return _mm512_reduce_add_ps(v); }

  struct Code {
    __m512 v;
  };
  struct Table {
    __m512 v;
  };
  using Idx = __m512i;
  static Code code(const float* c) { return {_mm512_loadu_ps(c)}; }
  static Table table(const Code& c, float scale) { return {_mm512_mul_ps(c.v, _mm512_set1_ps(scale))}; }
  // the table's values rounded to T (as dequantize_4bit stores them), back in fp32
  template <typename T>
  static Table rounded(Table t) {
    if constexpr (std::is_same_v<T, bf16_t>)
      return {_mm512_castsi512_ps(_mm512_slli_epi32(avx512::bf16_bits(t.v), 16))};
    else if constexpr (std::is_same_v<T, fp16_t>)
      return {_mm512_cvtph_ps(avx512::to_fp16x16(t.v))};
    else
      return t;
  }
  static Idx widen(const uint8_t* p) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static vec hi(const Table& t, Idx x) { return _mm512_permutexvar_ps(_mm512_srli_epi32(x, 4), t.v); }
  static vec lo(const Table& t, Idx x) { return _mm512_permutexvar_ps(x, t.v); }
};

}  // namespace
}  // namespace bnb::cpu

#include "gemm_4bit_fp32.h"

namespace bnb::cpu {
namespace {

constexpr Gemm4bitPath kFused{"avx512", fused_workspace, fused_pack, fused_run, simd_supports, 8, 1};
constexpr Gemm4bitPath kTiled{"avx512 tiled", tiled_workspace, tiled_pack, tiled_run, simd_supports, kPanelRows, 1};

}  // namespace

const Gemm4bitPath* gemm_4bit_avx512_path() { return &kFused; }
const Gemm4bitPath* gemm_4bit_avx512_tiled_path() { return &kTiled; }

}  // namespace bnb::cpu
