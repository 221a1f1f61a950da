// AVX2 paths of the 4-bit matmul, fp32 arithmetic (A of any dtype): the fused
// kernel (few batch rows) and the tiled one, from gemm_4bit_fp32.h. A step is
// 16 weight columns: 8 packed bytes widened to 8 dword lanes (vpmovzxbd), the
// high nibbles shifted down; a 16-entry fp32 table is two registers, so each
// lookup is two vpermps (index bits 0-2) and a blend on index bit 3. 16 ymm
// registers: 2 weight rows per fused tile (1 from 3 batch rows on), 6 x 16 or
// 12 x 8 accumulators per micro-kernel tile.
#include <immintrin.h>

#include <type_traits>

#include "gemm_4bit.h"
#include "simd_avx2.h"

namespace bnb::cpu {
namespace {

struct Isa {
  using vec = __m256;
  static constexpr int L = 8;
  template <int MR>
  static constexpr int kFusedRows = MR <= 2 ? 2 : 1;
  template <int MV>
  static constexpr int kTileRows = MV == 2 ? 6 : 12;

  static vec zero() { return _mm256_setzero_ps(); }
  static vec load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, vec v) { _mm256_storeu_ps(p, v); }
  static vec set1(float x) { return _mm256_set1_ps(x); }
  static vec fmadd(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
  static vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
  static float hsum(vec v) { return avx2::hsum(v); }

  struct Code {
    __m256 lo, hi;  // code[0..7], code[8..15]
  };
  using Table = Code;  // code * scale
  using Idx = __m256i;
  static Code code(const float* c) { return {_mm256_loadu_ps(c), _mm256_loadu_ps(c + 8)}; }
  static Table table(const Code& c, float scale) {
    const __m256 s = _mm256_set1_ps(scale);
    return {_mm256_mul_ps(c.lo, s), _mm256_mul_ps(c.hi, s)};
  }
  template <typename T>
  static __m256 round(__m256 v) {
    if constexpr (std::is_same_v<T, bf16_t>)
      return _mm256_castsi256_ps(_mm256_slli_epi32(avx2::bf16_bits(v), 16));
    else if constexpr (std::is_same_v<T, fp16_t>)
      return _mm256_cvtph_ps(avx2::to_fp16x8(v));
    else
      return v;
  }
  // the table's values rounded to T (as dequantize_4bit stores them), back in fp32
  template <typename T>
  static Table rounded(Table t) {
    return {round<T>(t.lo), round<T>(t.hi)};
  }
  static Idx widen(const uint8_t* p) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  }
  // table[x & 15] per lane
  static vec lookup(const Table& t, Idx x) {
    const __m256 lo = _mm256_permutevar8x32_ps(t.lo, x), hi = _mm256_permutevar8x32_ps(t.hi, x);
    return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(x, 28)));
  }
  static vec hi(const Table& t, Idx x) { return lookup(t, _mm256_srli_epi32(x, 4)); }
  static vec lo(const Table& t, Idx x) { return lookup(t, x); }
};

}  // namespace
}  // namespace bnb::cpu

#include "gemm_4bit_fp32.h"

namespace bnb::cpu {
namespace {

constexpr Gemm4bitPath kFused{"avx2", fused_workspace, fused_pack, fused_run, simd_supports, 8, 1};
constexpr Gemm4bitPath kTiled{"avx2 tiled", tiled_workspace, tiled_pack, tiled_run, simd_supports, kPanelRows, 1};

}  // namespace

const Gemm4bitPath* gemm_4bit_avx2_path() { return &kFused; }
const Gemm4bitPath* gemm_4bit_avx2_tiled_path() { return &kTiled; }

}  // namespace bnb::cpu
