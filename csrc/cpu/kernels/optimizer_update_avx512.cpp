// AVX-512 path of the CPU optimizer kernels, 16 lanes. The update is the
// per-element math of optimizer_update_lanes.h (shared with AVX2; equal to the
// scalar path bit for bit) over these traits.
// 8-bit blocks: the old states are dequantized a block at a time with VBMI byte
// permutes (else from the map held in registers), updated, and requantized with
// the exact bucket table of optimizer_update.h (one gather and one compare per
// 16 values); a map without a table takes the branch-free midpoint search with
// each level's candidates in registers: level s (s = 128 ... 1) has 128/s
// candidates mids[k*2s + s - 1], read with one vpermps / vpermt2ps per 16 (up
// to 32) candidates. No FTZ/DAZ (they would change results); the search works
// on the fp32 bit patterns, so subnormals cost nothing there.
// The unorm pass (a float sum whose order matters) stays on the shared loops.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "cpu_features.h"
#include "simd_avx512.h"

namespace bnb::cpu {
namespace {

using namespace avx512;

struct Isa {
  using vec = __m512;
  static vec set1(float x) { return _mm512_set1_ps(x); }
  static vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
  static vec sub(vec a, vec b) { return _mm512_sub_ps(a, b); }
  static vec mul(vec a, vec b) { return _mm512_mul_ps(a, b); }
  static vec div(vec a, vec b) { return _mm512_div_ps(a, b); }
  static vec sqrt(vec a) { return _mm512_sqrt_ps(a); }
  static vec sign(vec c) {
    const vec zero = _mm512_setzero_ps();
    const vec u = _mm512_mask_mov_ps(zero, _mm512_cmp_ps_mask(c, zero, _CMP_GT_OQ), _mm512_set1_ps(1.0f));
    return _mm512_mask_mov_ps(u, _mm512_cmp_ps_mask(c, zero, _CMP_LT_OQ), _mm512_set1_ps(-1.0f));
  }
};

}  // namespace
}  // namespace bnb::cpu

#include "optimizer_update_lanes.h"

namespace bnb::cpu {
namespace {

inline __mmask16 active16(bool skip_zeros, __m512 g, __mmask16 valid) {
  const __m512 zero = _mm512_setzero_ps();
  __mmask16 m = _mm512_mask_cmp_ps_mask(valid, _mm512_sub_ps(g, g), zero, _CMP_EQ_OQ);
  if (skip_zeros) m = _mm512_mask_cmp_ps_mask(m, g, zero, _CMP_NEQ_UQ);
  return m;
}

// ---- the midpoint search ------------------------------------------------------
// Candidates of every level, 16 per register: level s (128/s candidates) at
// v[kOff<s> ...].
inline constexpr int kOff128 = 0, kOff64 = 16, kOff32 = 32, kOff16 = 48, kOff8 = 64, kOff4 = 80, kOff2 = 112,
                     kOff1 = 176;

struct Search {
  alignas(64) float v[304];
  int zero;
};

inline void build_search(const float* mids, int zero, Search& t) {
  std::fill(t.v, t.v + 304, 0.0f);
  const int offs[8] = {kOff128, kOff64, kOff32, kOff16, kOff8, kOff4, kOff2, kOff1};
  int level = 0;
  for (int s = 128; s > 0; s >>= 1, ++level)
    for (int k = 0; k < 128 / s; ++k) t.v[offs[level] + k] = mids[k * 2 * s + s - 1];
  t.zero = zero;
}

// The candidates of every level in registers (19 zmm), loaded once per block:
// the byte stores of the codes could alias the tables in memory.
struct SearchRegs {
  __m512 l128, l64, l32, l16, l8, l4[2], l2[4], l1[8];
  __m512i zero;
  bool has_zero;
};

inline SearchRegs load_search(const Search& t) {
  SearchRegs r;
  r.l128 = _mm512_load_ps(t.v + kOff128);
  r.l64 = _mm512_load_ps(t.v + kOff64);
  r.l32 = _mm512_load_ps(t.v + kOff32);
  r.l16 = _mm512_load_ps(t.v + kOff16);
  r.l8 = _mm512_load_ps(t.v + kOff8);
  for (int k = 0; k < 2; ++k) r.l4[k] = _mm512_load_ps(t.v + kOff4 + 16 * k);
  for (int k = 0; k < 4; ++k) r.l2[k] = _mm512_load_ps(t.v + kOff2 + 16 * k);
  for (int k = 0; k < 8; ++k) r.l1[k] = _mm512_load_ps(t.v + kOff1 + 16 * k);
  r.zero = _mm512_set1_epi32(t.zero);
  r.has_zero = t.zero >= 0;
  return r;
}

// table[idx] for a table of 16 * kRegs entries in registers (idx's higher bits are ignored by the permutes)
template <int kRegs>
inline __m512 lookup(const __m512* regs, __m512i idx) {
  if constexpr (kRegs == 1) {
    return _mm512_permutexvar_ps(idx, regs[0]);
  } else {
    __m512 lv[kRegs / 2];
    for (int k = 0; k < kRegs / 2; ++k) lv[k] = _mm512_permutex2var_ps(regs[2 * k], idx, regs[2 * k + 1]);
    int n = kRegs / 2;
    int bit = 32;
    while (n > 1) {
      const __mmask16 hi = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(bit));
      for (int k = 0; k < n / 2; ++k) lv[k] = _mm512_mask_blend_ps(hi, lv[2 * k], lv[2 * k + 1]);
      n /= 2;
      bit *= 2;
    }
    return lv[0];
  }
}

template <int kStep, int kShift, int kRegs>
inline __m512i search_level(const __m512* regs, __m512i pos, __m512 x) {
  const __m512 cand = lookup<kRegs>(regs, _mm512_srli_epi32(pos, kShift));
  const __mmask16 lt = _mm512_cmp_ps_mask(cand, x, _CMP_LT_OQ);
  return _mm512_mask_add_epi32(pos, lt, pos, _mm512_set1_epi32(kStep));
}

// The fix_sign() of common/optimizer.h for a signed map with its zero at index zero.
inline __m512i fix_sign16(__m512i pos, __m512 x, __m512i zero) {
  const __m512 fzero = _mm512_setzero_ps();
  const __mmask16 at_zero = _mm512_cmpeq_epi32_mask(pos, zero);
  const __mmask16 neg = _mm512_mask_cmp_ps_mask(at_zero, x, fzero, _CMP_LT_OQ);
  const __mmask16 posv = _mm512_mask_cmp_ps_mask(at_zero, x, fzero, _CMP_GT_OQ);
  pos = _mm512_mask_sub_epi32(pos, neg, pos, _mm512_set1_epi32(1));
  return _mm512_mask_add_epi32(pos, posv, pos, _mm512_set1_epi32(1));
}

// nearest_code() then fix_sign() of common/optimizer.h, 16 lanes.
inline __m512i nearest16(const SearchRegs& r, __m512 x) {
  __m512i pos = _mm512_setzero_si512();
  pos = search_level<128, 8, 1>(&r.l128, pos, x);
  pos = search_level<64, 7, 1>(&r.l64, pos, x);
  pos = search_level<32, 6, 1>(&r.l32, pos, x);
  pos = search_level<16, 5, 1>(&r.l16, pos, x);
  pos = search_level<8, 4, 1>(&r.l8, pos, x);
  pos = search_level<4, 3, 2>(r.l4, pos, x);
  pos = search_level<2, 2, 4>(r.l2, pos, x);
  pos = search_level<1, 1, 8>(r.l1, pos, x);
  return r.has_zero ? fix_sign16(pos, x, r.zero) : pos;
}

// bucket_nearest_code() of a CodeBuckets table, 16 lanes: one gather and one compare.
struct BucketRegs {
  const uint32_t* entry;
  __m512i shift, c_lo, c_hi, pos_off, mask, zero_code;
  bool has_zero;
};

inline BucketRegs load_buckets(const CodeBuckets& t) {
  BucketRegs r;
  r.entry = t.entry;
  r.shift = _mm512_set1_epi32(t.shift);
  r.c_lo = _mm512_set1_epi32(t.c_lo);
  r.c_hi = _mm512_set1_epi32(t.c_hi);
  r.pos_off = _mm512_set1_epi32(t.c_hi - 2 * t.c_lo + 1);  // positive c sits at h + c - c_lo
  r.mask = _mm512_set1_epi32(static_cast<int>((1u << t.shift) - 1u));
  r.zero_code = _mm512_set1_epi32(t.zero_code);
  r.has_zero = t.zero >= 0;
  return r;
}

inline __m512i bucket16(const BucketRegs& r, __m512 x) {
  const __m512i bits = _mm512_castps_si512(x);
  const __m512i a = _mm512_and_si512(bits, _mm512_set1_epi32(0x7FFFFFFF));
  __m512i c = _mm512_srlv_epi32(a, r.shift);
  c = _mm512_min_epu32(_mm512_max_epu32(c, r.c_lo), r.c_hi);
  const __mmask16 neg = _mm512_movepi32_mask(bits);
  const __m512i idx = _mm512_mask_sub_epi32(_mm512_add_epi32(c, r.pos_off), neg, r.c_hi, c);
  const __m512i e = _mm512_i32gather_epi32(idx, r.entry, 4);
  const __m512i low = _mm512_and_si512(_mm512_xor_si512(bits, _mm512_srai_epi32(bits, 31)), r.mask);
  const __mmask16 ord = _mm512_cmp_ps_mask(x, x, _CMP_ORD_Q);
  __m512i pos = _mm512_maskz_srli_epi32(ord, e, 24);
  const __mmask16 gt = _mm512_mask_cmpgt_epu32_mask(ord, low, _mm512_and_si512(e, r.mask));
  pos = _mm512_mask_add_epi32(pos, gt, pos, _mm512_set1_epi32(1));
  if (!r.has_zero) return pos;  // else the table holds fix_sign(), but for +-0
  return _mm512_mask_mov_epi32(pos, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_EQ_OQ), r.zero_code);
}

inline void store_codes(uint8_t* q, int64_t j, int64_t len, __m512i pos) {
  const __m128i bytes = _mm512_cvtepi32_epi8(pos);
  if (j + 16 <= len)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + j), bytes);
  else
    _mm_mask_storeu_epi8(q + j, first_n(len - j), bytes);
}

// The requantization of one block: the bucket table when the map has one, else
// the register binary search.
// Kept per thread and rebuilt only when the map changes (the maps of a training
// run are the same every step).
struct Requant {
  CodeBuckets buckets;
  Search search;
  bool built = false;
  float mids[255];
};

inline void build_requant(const float* mids, int zero, Requant& t) {
  if (t.built && t.search.zero == zero && std::memcmp(t.mids, mids, sizeof t.mids) == 0) return;
  std::memcpy(t.mids, mids, sizeof t.mids);
  t.built = true;
  build_code_buckets(mids, zero, t.buckets);
  if (!t.buckets.ok) build_search(mids, zero, t.search);
  t.search.zero = zero;
}

inline void requantize_block(const float* v, int64_t len, float amax, const Requant& t, uint8_t* q) {
  const __m512 inv = _mm512_set1_ps(amax > 0.0f ? 1.0f / amax : 0.0f);
  if (t.buckets.ok) {
    const BucketRegs r = load_buckets(t.buckets);
    for (int64_t j = 0; j < len; j += 16) store_codes(q, j, len, bucket16(r, mul(_mm512_load_ps(v + j), inv)));
  } else {
    const SearchRegs r = load_search(t.search);
    for (int64_t j = 0; j < len; j += 16) store_codes(q, j, len, nearest16(r, mul(_mm512_load_ps(v + j), inv)));
  }
}

// qmap[q] * amax with the 256-entry map in registers (8 two-source permutes and
// a blend tree: cheaper than a gather on most cores).
struct MapRegs {
  __m512 v[16];
};

inline void load_map(const float* code, MapRegs& r) {
  for (int k = 0; k < 16; ++k) r.v[k] = _mm512_loadu_ps(code + 16 * k);
}

inline __m512 dequant16(const uint8_t* q, __mmask16 valid, const MapRegs& code, __m512 amax) {
  const __m512i idx = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(valid, q));
  return mul(lookup<16>(code.v, idx), amax);
}

// With AVX512-VBMI, the dequantization of a whole block: the map split into 4
// byte planes (16 zmm), 64 codes per step looked up with byte permutes, the
// bytes reassembled into floats. The codes are first moved (a 4x4 transpose of
// dwords) so the unpacks give the floats in order.
struct BytePlanes {
  alignas(64) uint8_t b[4][256];
  bool built = false;
  float code[256];
};

inline void build_planes(const float* code, BytePlanes& t) {
  if (t.built && std::memcmp(t.code, code, sizeof t.code) == 0) return;
  std::memcpy(t.code, code, sizeof t.code);
  t.built = true;
  for (int i = 0; i < 256; ++i) {
    uint32_t u;
    std::memcpy(&u, code + i, sizeof u);
    for (int k = 0; k < 4; ++k) t.b[k][i] = static_cast<uint8_t>(u >> (8 * k));
  }
}

__attribute__((target("avx512vbmi"), noinline)) void dequant_block_vbmi(const uint8_t* q, int64_t len,
                                                                        const BytePlanes& t, float amax, float* out) {
  __m512i pl[4][4];
  for (int k = 0; k < 4; ++k)
    for (int r = 0; r < 4; ++r) pl[k][r] = _mm512_load_si512(t.b[k] + 64 * r);
  const __m512i transpose = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  const __m512 am = _mm512_set1_ps(amax);
  for (int64_t j = 0; j < len; j += 64) {
    const __mmask64 valid = len - j >= 64 ? ~static_cast<__mmask64>(0) : (static_cast<__mmask64>(1) << (len - j)) - 1;
    const __m512i idx = _mm512_permutexvar_epi32(transpose, _mm512_maskz_loadu_epi8(valid, q + j));
    const __mmask64 hi = _mm512_movepi8_mask(idx);
    __m512i b[4];
    for (int k = 0; k < 4; ++k)
      b[k] = _mm512_mask_blend_epi8(hi, _mm512_permutex2var_epi8(pl[k][0], idx, pl[k][1]),
                                    _mm512_permutex2var_epi8(pl[k][2], idx, pl[k][3]));
    const __m512i lo01 = _mm512_unpacklo_epi8(b[0], b[1]), hi01 = _mm512_unpackhi_epi8(b[0], b[1]);
    const __m512i lo23 = _mm512_unpacklo_epi8(b[2], b[3]), hi23 = _mm512_unpackhi_epi8(b[2], b[3]);
    _mm512_store_ps(out + j, mul(_mm512_castsi512_ps(_mm512_unpacklo_epi16(lo01, lo23)), am));
    _mm512_store_ps(out + j + 16, mul(_mm512_castsi512_ps(_mm512_unpackhi_epi16(lo01, lo23)), am));
    _mm512_store_ps(out + j + 32, mul(_mm512_castsi512_ps(_mm512_unpacklo_epi16(hi01, hi23)), am));
    _mm512_store_ps(out + j + 48, mul(_mm512_castsi512_ps(_mm512_unpackhi_epi16(hi01, hi23)), am));
  }
}

// Software prefetch of a later block (the streams are many for the hardware prefetcher).
constexpr int64_t kAhead = 4;
template <bool kTwo, bool kMix, typename T>
inline void prefetch_block(const Optimizer8bitArgs& a, const T* g, const T* p, int64_t start) {
  constexpr int64_t kBytes = kOptimizerBlocksize * sizeof(T);
  for (int64_t o = 0; o < kBytes; o += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(g + start) + o, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(p + start) + o, _MM_HINT_T0);
  }
  for (int64_t o = 0; o < kOptimizerBlocksize; o += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(a.state1 + start) + o, _MM_HINT_T0);
    if (kMix) _mm_prefetch(reinterpret_cast<const char*>(a.state1 + a.n + start) + o, _MM_HINT_T0);
    if (kTwo) _mm_prefetch(reinterpret_cast<const char*>(a.state2 + start) + o, _MM_HINT_T0);
  }
}

template <OptimizerKind K, typename T, bool kVbmi>
void update_8bit_blocks16(const Optimizer8bitArgs& a, int64_t block_begin, int64_t block_end) {
  constexpr int64_t kBS = kOptimizerBlocksize;
  constexpr bool kTwo = has_state2(K);
  constexpr bool kMix = K == OptimizerKind::kAdEMAMix;
  const T* g = static_cast<const T*>(a.g);
  T* p = static_cast<T*>(a.p);
  const int64_t nblocks = num_blocks(a.n, kBS);
  static thread_local Requant t1, t2;  // ~32 KB each: off the stack
  build_requant(a.mids1, a.zero1, t1);
  if constexpr (kTwo) build_requant(a.mids2, -1, t2);
  const VHyper h = make_vhyper(a.h, 1.0f);
  const bool skip_zeros = a.h.skip_zeros;
  alignas(64) float v1[kBS], v1b[kBS], v2[kBS];
  MapRegs map1, map2;
  if constexpr (!kVbmi) {
    load_map(a.qmap1, map1);
    load_map(kTwo ? a.qmap2 : a.qmap1, map2);
  }
  constexpr bool vbmi = kVbmi;
  static thread_local BytePlanes planes1, planes2;
  if constexpr (vbmi) {
    build_planes(a.qmap1, planes1);
    if constexpr (kTwo) build_planes(a.qmap2, planes2);
  }
  for (int64_t b = block_begin; b < block_end; ++b) {
    const int64_t start = b * kBS;
    const int64_t len = std::min(kBS, a.n - start);
    uint8_t* q1 = a.state1 + start;
    uint8_t* q1b = kMix ? a.state1 + a.n + start : q1;
    uint8_t* q2 = kTwo ? a.state2 + start : q1;
    const __m512 am1 = _mm512_set1_ps(a.absmax1[b]);
    const __m512 am1b = _mm512_set1_ps(kMix ? a.absmax1[nblocks + b] : 0.0f);
    const __m512 am2 = _mm512_set1_ps(kTwo ? a.absmax2[b] : 0.0f);
    if (b + kAhead < block_end) prefetch_block<kTwo, kMix>(a, g, p, start + kAhead * kBS);
    if constexpr (vbmi) {  // the old states into v1, v1b, v2 (read back below)
      dequant_block_vbmi(q1, len, planes1, a.absmax1[b], v1);
      if constexpr (kMix) dequant_block_vbmi(q1b, len, planes1, a.absmax1[nblocks + b], v1b);
      if constexpr (kTwo) dequant_block_vbmi(q2, len, planes2, a.absmax2[b], v2);
    }
    __m512 mx1 = _mm512_setzero_ps(), mx1b = mx1, mx2 = mx1;
    for (int64_t j = 0; j < len; j += 16) {
      const __mmask16 valid = j + 16 <= len ? static_cast<__mmask16>(0xFFFF) : first_n(len - j);
      const __m512 gi = load16(g + start + j, valid);
      const __m512 pi = load16(p + start + j, valid);
      const __mmask16 act = active16(skip_zeros, gi, valid);
      const __m512 zero = _mm512_setzero_ps();
      const __m512 o1 = vbmi ? _mm512_load_ps(v1 + j) : dequant16(q1 + j, valid, map1, am1);
      const __m512 o1b = !kMix ? zero : vbmi ? _mm512_load_ps(v1b + j) : dequant16(q1b + j, valid, map1, am1b);
      const __m512 o2 = !kTwo ? zero : vbmi ? _mm512_load_ps(v2 + j) : dequant16(q2 + j, valid, map2, am2);
      __m512 s1 = o1, s1b = o1b, s2 = o2;
      const __m512 u = update_lanes<K>(h, _mm512_maskz_mov_ps(act, gi), pi, s1, s1b, s2);
      store16(p + start + j, apply_lanes<K>(h, pi, u), act);
      // lanes past the end hold 0, so they leave the absmax alone
      const __m512 n1 = _mm512_maskz_mov_ps(valid, _mm512_mask_mov_ps(o1, act, s1));
      _mm512_store_ps(v1 + j, n1);
      mx1 = _mm512_max_ps(_mm512_abs_ps(n1), mx1);
      if constexpr (kMix) {
        const __m512 n1b = _mm512_maskz_mov_ps(valid, _mm512_mask_mov_ps(o1b, act, s1b));
        _mm512_store_ps(v1b + j, n1b);
        mx1b = _mm512_max_ps(_mm512_abs_ps(n1b), mx1b);
      }
      if constexpr (kTwo) {
        const __m512 n2 = _mm512_maskz_mov_ps(valid, _mm512_mask_mov_ps(o2, act, s2));
        _mm512_store_ps(v2 + j, n2);
        mx2 = _mm512_max_ps(_mm512_abs_ps(n2), mx2);
      }
    }
    const float m1 = _mm512_reduce_max_ps(mx1);
    a.absmax1[b] = m1;
    if constexpr (kMix) {
      const float m1b = _mm512_reduce_max_ps(mx1b);
      a.absmax1[nblocks + b] = m1b;
      requantize_block(v1b, len, m1b, t1, q1b);
    }
    if constexpr (kTwo) {
      const float m2 = _mm512_reduce_max_ps(mx2);
      a.absmax2[b] = m2;
      requantize_block(v2, len, m2, t2, q2);
    }
    requantize_block(v1, len, m1, t1, q1);
  }
}

template <OptimizerKind K, typename T>
void update_32bit16(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  constexpr bool kTwo = has_state2(K);
  constexpr bool kMix = K == OptimizerKind::kAdEMAMix;
  const T* g = static_cast<const T*>(a.g);
  T* p = static_cast<T*>(a.p);
  const float scale = unorm_scale(a.unorm_sum ? *a.unorm_sum : 0.0f, a.max_unorm, a.param_norm);
  const VHyper h = make_vhyper(a.h, scale);
  const bool skip_zeros = a.h.skip_zeros;
  for (int64_t i = begin; i < end; i += 16) {
    const __mmask16 valid = i + 16 <= end ? static_cast<__mmask16>(0xFFFF) : first_n(end - i);
    const __m512 gi = load16(g + i, valid);
    const __m512 pi = load16(p + i, valid);
    const __mmask16 act = active16(skip_zeros, gi, valid);
    __m512 s1 = _mm512_maskz_loadu_ps(valid, a.state1 + i);
    __m512 s1b = kMix ? _mm512_maskz_loadu_ps(valid, a.state1 + a.n + i) : _mm512_setzero_ps();
    __m512 s2 = kTwo ? _mm512_maskz_loadu_ps(valid, a.state2 + i) : _mm512_setzero_ps();
    const __m512 u = update_lanes<K>(h, _mm512_maskz_mov_ps(act, gi), pi, s1, s1b, s2);
    store16(p + i, apply_lanes<K>(h, pi, u), act);
    _mm512_mask_storeu_ps(a.state1 + i, act, s1);
    if constexpr (kMix) _mm512_mask_storeu_ps(a.state1 + a.n + i, act, s1b);
    if constexpr (kTwo) _mm512_mask_storeu_ps(a.state2 + i, act, s2);
  }
}

}  // namespace

double optimizer_32bit_unorm_avx512(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  return unorm_dispatch(a, begin, end);
}

void optimizer_32bit_avx512(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  dispatch_optimizer(a.kind, [&](auto k) {
    dispatch_dtype(a.dtype,
                   [&](auto t) { update_32bit16<decltype(k)::value, typename decltype(t)::type>(a, begin, end); });
  });
}

bool& optimizer_avx512_vbmi() {
  static bool use = cpu_features().avx512_vbmi;
  return use;
}

void nearest_codes_avx512(const float* mids, int zero, const float* x, int64_t n, uint8_t* q) {
  static thread_local Requant t;
  build_requant(mids, zero, t);
  alignas(64) float v[kOptimizerBlocksize];
  for (int64_t s = 0; s < n; s += kOptimizerBlocksize) {
    const int64_t len = std::min<int64_t>(kOptimizerBlocksize, n - s);
    std::copy(x + s, x + s + len, v);
    requantize_block(v, len, 1.0f, t, q + s);
  }
}

void optimizer_8bit_blockwise_avx512(const Optimizer8bitArgs& a, int64_t block_begin, int64_t block_end) {
  dispatch_optimizer(blockwise_kind(a.kind), [&](auto k) {
    constexpr OptimizerKind K = decltype(k)::value;
    if constexpr (K != OptimizerKind::kLamb && K != OptimizerKind::kLars) {
      dispatch_dtype(a.dtype, [&](auto t) {
        using T = typename decltype(t)::type;
        if (optimizer_avx512_vbmi())
          update_8bit_blocks16<K, T, true>(a, block_begin, block_end);
        else
          update_8bit_blocks16<K, T, false>(a, block_begin, block_end);
      });
    }
  });
}

}  // namespace bnb::cpu
