// AMX path of the 4-bit matmul: bf16 A on CPUs with AMX-BF16 (SimdLevel::kAmx).
//
// The weight is the tile multiply's left operand (16 rows x 32 bf16 per tile),
// so its rows are decoded in their natural row-major layout: per 32 weight rows
// and up to 256 columns (a 16 KiB panel), each row's bytes are widened to 16-bit lanes
// (vpmovzxbw), the high nibbles shifted down, and both looked up with vpermw in
// the block's table bf16(code * scale): the weight exactly as dequantize_4bit
// gives it. A chunk of 64 columns (32 when blocksize is 32) comes out as its
// high nibbles (columns 2i) then its low ones (2i + 1); packed A uses the same
// column order ("positions"), in VNNI pairs: per 16 batch rows and 32
// positions a 16 x 64-byte tile whose row kk holds positions 2kk and 2kk + 1 of
// each batch row. A 2 x 2 grid of 16 x 16 fp32 accumulator tiles covers 32
// weight rows x 32 batch rows (tdpbf16ps: exact products, fp32 sums, bf16
// denormal inputs read as zero), so results differ from the scalar path only
// in the order of the fp32 sums.
//
// Each panel is decoded, then multiplied (measured on Sapphire Rapids: the tile
// and vector units barely overlap, and vector stores between tile loads stall
// them). Batch rows go in super-blocks of 128 (the weights are decoded once per
// super-block), and K in the fewest equal blocks over each of which a
// super-block's packed A stays within ~1 MiB of L2; the fp32 sums of the thread's columns persist across K
// blocks.
#include <immintrin.h>

#include <algorithm>

#include "amx_tiles.h"
#include "gemm_4bit.h"
#include "scratch_buffer.h"

namespace bnb::cpu {
namespace {

constexpr int64_t kRows = 32;        // weight rows per panel (two A tiles)
constexpr int64_t kChunk = 256;      // weight columns per panel (16 KiB: stays in L1 with the A tiles)
constexpr int64_t kMBlock = 32;      // batch rows per accumulator grid (two B tiles)
constexpr int64_t kTileWords = 512;  // one 16 x 32 bf16 tile
// How far ahead each weight row is prefetched: with weights rotated past the L3, 1 chunk reached ~9 G weights/s
// at batch 1-3 on Sapphire Rapids (1 thread), 2 ~11.5, 4 and 8 ~12 (17 in cache); T0 instead of T1: ~7.5.
constexpr int64_t kPrefetchChunks = 4;

bool supports(const Gemm4bitArgs& a) { return a.dtype == DType::kBF16 && a.K > 0 && a.K % a.blocksize == 0; }

inline int64_t batch_panels(int64_t M) { return (M + 15) / 16; }

// Words from one panel of 16 batch rows to the next: K / 32 tiles plus 4 cache lines, so that the two A
// tiles read together do not map to the same L1 sets.
inline int64_t panel_words(int64_t K) { return K / 32 * kTileWords + 128; }

int64_t workspace_bytes(const Gemm4bitArgs& a) { return batch_panels(a.M) * panel_words(a.K) * 2; }

// ---- packed A ----------------------------------------------------------------------------------------------

// One row of A in position order: per chunk of `width` columns, the even columns then the odd ones.
void to_positions(const uint16_t* src, int64_t K, int64_t width, uint16_t* dst) {
  const __m512i lane = _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12,
                                        11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i even = _mm512_add_epi16(lane, lane), odd = _mm512_add_epi16(even, _mm512_set1_epi16(1));
  if (width == 64) {
    for (int64_t k = 0; k < K; k += 64) {
      const __m512i lo = _mm512_loadu_si512(src + k), hi = _mm512_loadu_si512(src + k + 32);
      _mm512_storeu_si512(dst + k, _mm512_permutex2var_epi16(lo, even, hi));
      _mm512_storeu_si512(dst + k + 32, _mm512_permutex2var_epi16(lo, odd, hi));
    }
  } else {  // 32: even columns to words 0-15, odd ones to 16-31
    const __m512i idx = _mm512_mask_blend_epi16(0xFFFF0000, even, _mm512_sub_epi16(odd, _mm512_set1_epi16(32)));
    for (int64_t k = 0; k < K; k += 32)
      _mm512_storeu_si512(dst + k, _mm512_permutexvar_epi16(idx, _mm512_loadu_si512(src + k)));
  }
}

// Packed A: [panel of 16 batch rows][K / 32 steps][16 kk][16 rows][2]. Called for whole panels (row_group 16);
// rows past M are zero.
void pack_a(const Gemm4bitArgs& a, void* ws, int64_t m_begin, int64_t m_end) {
  const int64_t width = std::min<int64_t>(64, a.blocksize);
  static thread_local ScratchBuffer buffer;
  uint16_t* rows = scratch<uint16_t>(buffer, 16 * a.K);
  const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i offsets = _mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int>(a.K * 2)));
  for (int64_t m0 = m_begin; m0 < m_end; m0 += 16) {
    for (int64_t i = 0; i < 16; ++i) {
      uint16_t* dst = rows + i * a.K;
      if (m0 + i < a.M)
        to_positions(static_cast<const uint16_t*>(a.A) + (m0 + i) * a.K, a.K, width, dst);
      else
        std::fill(dst, dst + a.K, uint16_t{0});
    }
    uint32_t* out = static_cast<uint32_t*>(ws) + (m0 / 16) * panel_words(a.K) / 2;
    for (int64_t pair = 0; pair < a.K / 2; ++pair)  // positions 2 pair, 2 pair + 1 of the 16 rows
      _mm512_storeu_si512(out + pair * 16,
                          _mm512_i32gather_epi32(offsets, reinterpret_cast<const int*>(rows + 2 * pair), 1));
  }
}

// ---- weight panels -----------------------------------------------------------------------------------------

// A panel to decode: weight rows [n0, n0 + rows) x positions [k0, k0 + kc), for batch rows [ms, ms + mc).
struct Item {
  int64_t ms, mc, n0, rows, k0, kc;
};

// Decodes an item's rows into panel[r * kChunk + position - k0].
struct Decoder {
  const Gemm4bitArgs& a;
  __m512 code;
  const Item* item;
  uint16_t* panel;

  void rows() const {
    for (int64_t r = 0; r < item->rows; ++r) row(r);
  }
  void row(int64_t r) const {
    const int64_t k0 = item->k0, kc = item->kc, shift = __builtin_ctzll(a.blocksize);
    const uint8_t* src = a.B + ((item->n0 + r) * a.K + k0) / 2;
    uint16_t* dst = panel + r * kChunk;
    // the row's chunk kPrefetchChunks ahead (past the row's end: the next panel's row), to L2: rows are read
    // in runs too short for the hardware prefetchers
    const int64_t next = k0 + kPrefetchChunks * kc;
    const uint8_t* ahead = next < a.K ? src + (next - k0) / 2 : a.B + ((item->n0 + r + kRows) * a.K + next - a.K) / 2;
    if (ahead + kc / 2 <= a.B + a.N * a.K / 2)
      for (int64_t b = 0; b < kc / 2; b += 64) _mm_prefetch(reinterpret_cast<const char*>(ahead + b), _MM_HINT_T1);
    // the chunk's block scales; scales[j] is the scale of positions k with (k0 + k) >> shift == first + j
    const int64_t first = ((item->n0 + r) * a.K + k0) >> shift;
    const float* scales = a.absmax + first;
    float nested[kChunk / 32];
    if (a.absmax_8bit != nullptr) {
      for (int64_t j = 0; j <= (kc - 1 + (k0 & (a.blocksize - 1))) >> shift; ++j)
        nested[j] = gemm_4bit_block_scale(a, first + j);
      scales = nested;
    }
    const int64_t base = k0 >> shift;
    if (a.blocksize >= 64) {
      for (int64_t k = 0; k < kc; k += 64) {
        const __m512 scaled = _mm512_mul_ps(code, _mm512_set1_ps(scales[((k0 + k) >> shift) - base]));
        // 32 entries: vpermw reads index bit 4 too
        const __m512i table = _mm512_broadcast_i64x4(reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(scaled)));
        const __m512i x = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + k / 2)));
        _mm512_storeu_si512(dst + k, _mm512_permutexvar_epi16(_mm512_srli_epi16(x, 4), table));
        _mm512_storeu_si512(dst + k + 32, _mm512_permutexvar_epi16(x, table));
      }
    } else {
      for (int64_t k = 0; k < kc; k += 32) {
        const __m512 scaled = _mm512_mul_ps(code, _mm512_set1_ps(scales[k >> 5]));
        const __m256i table = reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(scaled));
        const __m256i x = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + k / 2)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k),
                            _mm256_permutexvar_epi16(_mm256_srli_epi16(x, 4), table));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k + 16), _mm256_permutexvar_epi16(x, table));
      }
    }
  }
};

// ---- tiles -------------------------------------------------------------------------------------------------

// Tiles (amx::configure_tiles): 0-3 fp32 accumulators (weight tile i, batch tile j at 2i + j); 4-5 weight
// tiles; 6-7 A tiles.
// 32 weight rows (panel, kc positions) x 16 or 32 batch rows (x: their first step's tile; x2: the next 16 rows'),
// accumulated into c (ldc floats per weight row).
template <bool kTwo>
void tile_block(const uint16_t* panel, const uint16_t* x, int64_t x2, int64_t kc, float* c, int64_t ldc, bool first) {
  const int64_t ldc_bytes = ldc * 4;
  if (first) {
    _tile_zero(0);
    _tile_zero(2);
    if (kTwo) {
      _tile_zero(1);
      _tile_zero(3);
    }
  } else {
    _tile_loadd(0, c, ldc_bytes);
    _tile_loadd(2, c + 16 * ldc, ldc_bytes);
    if (kTwo) {
      _tile_loadd(1, c + 16, ldc_bytes);
      _tile_loadd(3, c + 16 * ldc + 16, ldc_bytes);
    }
  }
  for (int64_t s = 0; s < kc / 32; ++s) {
    _tile_loadd(4, panel + s * 32, kChunk * 2);
    _tile_loadd(5, panel + 16 * kChunk + s * 32, kChunk * 2);
    _tile_loadd(6, x + s * kTileWords, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(2, 5, 6);
    if (kTwo) {
      _tile_loadd(7, x + x2 + s * kTileWords, 64);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(3, 5, 7);
    }
  }
  _tile_stored(0, c, ldc_bytes);
  _tile_stored(2, c + 16 * ldc, ldc_bytes);
  if (kTwo) {
    _tile_stored(1, c + 16, ldc_bytes);
    _tile_stored(3, c + 16 * ldc + 16, ldc_bytes);
  }
}

// Transposes 16 rows of 16 floats in registers.
inline void transpose16(__m512 (&v)[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    v[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    v[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    v[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    v[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(v[i], v[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(v[i], v[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(v[i + 8], v[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(v[i + 8], v[i + 12], 0xDD);
  }
  for (int i = 0; i < 8; ++i) {
    v[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    v[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
  }
}

// out[ms + m][n0 + r] = bf16(c[r * ldc + m] + bias[n0 + r]) for an item's rows, 16 x 16 blocks transposed in
// registers (vcvtneps2bf16: round to nearest even, outputs below bf16's normal range flushed to 0).
void write_out(const Gemm4bitArgs& a, const Item& it, const float* c, int64_t ldc) {
  bf16_t* out = static_cast<bf16_t*>(a.out) + it.ms * a.N + it.n0;
  for (int64_t r0 = 0; r0 < it.rows; r0 += 16) {
    const __mmask16 mask = static_cast<__mmask16>((1u << std::min<int64_t>(16, it.rows - r0)) - 1);
    const __m512 bias = a.bias != nullptr ? _mm512_maskz_loadu_ps(mask, a.bias + it.n0 + r0) : _mm512_setzero_ps();
    for (int64_t m0 = 0; m0 < it.mc; m0 += 16) {
      __m512 v[16];
      for (int r = 0; r < 16; ++r) v[r] = _mm512_loadu_ps(c + (r0 + r) * ldc + m0);  // ldc >= m0 + 16
      transpose16(v);
      for (int64_t m = 0; m < std::min<int64_t>(16, it.mc - m0); ++m)
        _mm256_mask_storeu_epi16(out + (m0 + m) * a.N + r0, mask,
                                 reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_add_ps(v[m], bias))));
    }
  }
}

// Batch rows per super-block (the weights are decoded once per super-block).
constexpr int64_t kSuperRows = 128;

// Columns per K block: K in the fewest equal blocks (whole chunks) over each of which a
// super-block's packed A (bf16) stays within ~1 MiB of L2.
inline int64_t k_block(int64_t K, int64_t rows) {
  const int64_t blocks = (2 * rows * K + (int64_t{1} << 20) - 1) >> 20;
  return ((K + blocks - 1) / blocks + kChunk - 1) / kChunk * kChunk;
}

void run(const Gemm4bitArgs& a, const void* ws, int64_t n_begin, int64_t n_end) {
  const uint16_t* X = static_cast<const uint16_t*>(ws);
  const int64_t mc_max = std::min(kSuperRows, batch_panels(a.M) * 16);
  static thread_local ScratchBuffer panel_buffer, c_buffer;  // tile rows must not straddle cache lines
  uint16_t* panel = scratch<uint16_t>(panel_buffer, kRows * kChunk);
  // the fp32 sums of this thread's columns x one super-block, kept across K blocks
  float* cbuf = scratch<float>(c_buffer, (n_end - n_begin + kRows - 1) / kRows * kRows * mc_max);
  const __m512 code = _mm512_loadu_ps(gemm_4bit_code(a));
  amx::configure_tiles();
  for (int64_t ms = 0; ms < a.M; ms += mc_max) {
    const int64_t mc = std::min(mc_max, a.M - ms), mcp = (mc + 15) / 16 * 16, kb_len = k_block(a.K, mcp);
    for (int64_t kb = 0; kb < a.K; kb += kb_len) {
      const int64_t kb_end = std::min(a.K, kb + kb_len);
      for (int64_t n0 = n_begin; n0 < n_end; n0 += kRows) {
        float* c = cbuf + (n0 - n_begin) * mcp;
        Item it{ms, mc, n0, std::min(kRows, n_end - n0), 0, 0};
        for (int64_t k0 = kb; k0 < kb_end; k0 += kChunk) {
          it.k0 = k0, it.kc = std::min(kChunk, kb_end - k0);
          Decoder{a, code, &it, panel}.rows();
          for (int64_t mb = 0; mb < mcp; mb += kMBlock) {
            const uint16_t* x = X + (ms + mb) / 16 * panel_words(a.K) + k0 / 32 * kTileWords;
            if (mcp - mb > 16)
              tile_block<true>(panel, x, panel_words(a.K), it.kc, c + mb, mcp, k0 == 0);
            else
              tile_block<false>(panel, x, 0, it.kc, c + mb, mcp, k0 == 0);
          }
        }
        if (kb_end == a.K) write_out(a, it, c, mcp);  // the panel's outputs are complete
      }
    }
  }
  _tile_release();
}

constexpr Gemm4bitPath kPath{"amx", workspace_bytes, pack_a, run, supports, kRows, 16};

}  // namespace

const Gemm4bitPath* gemm_4bit_amx_path() { return &kPath; }

}  // namespace bnb::cpu
