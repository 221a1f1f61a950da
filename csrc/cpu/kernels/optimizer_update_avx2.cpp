// AVX2 path of the CPU optimizer kernels, 8 lanes: the per-element math of
// optimizer_update_lanes.h (shared with AVX-512; equal to the scalar path bit
// for bit) over these traits. The 8-bit
// requantization uses the bucket table of optimizer_update.h (one gather and one
// compare per 8 values); a map without a table takes the midpoint search, which
// reads the candidates of levels 128..16 (up to 8) with one vpermps from a
// register, level 8 with two, and levels 4..1 with gathers; the maps are read
// with gathers. The unorm pass stays on the shared loops.
#include <immintrin.h>

#include <algorithm>

#include "simd_avx2.h"

namespace bnb::cpu {
namespace {

using namespace avx2;

struct Isa {
  using vec = __m256;
  static vec set1(float x) { return _mm256_set1_ps(x); }
  static vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
  static vec sub(vec a, vec b) { return _mm256_sub_ps(a, b); }
  static vec mul(vec a, vec b) { return _mm256_mul_ps(a, b); }
  static vec div(vec a, vec b) { return _mm256_div_ps(a, b); }
  static vec sqrt(vec a) { return _mm256_sqrt_ps(a); }
  static vec sign(vec c) {
    const vec zero = _mm256_setzero_ps();
    const vec u = _mm256_and_ps(_mm256_cmp_ps(c, zero, _CMP_GT_OQ), _mm256_set1_ps(1.0f));
    return _mm256_blendv_ps(u, _mm256_set1_ps(-1.0f), _mm256_cmp_ps(c, zero, _CMP_LT_OQ));
  }
};

}  // namespace
}  // namespace bnb::cpu

#include "optimizer_update_lanes.h"

namespace bnb::cpu {
namespace {

inline __m256 select(__m256 mask, __m256 if_false, __m256 if_true) { return _mm256_blendv_ps(if_false, if_true, mask); }

inline __m256 valid_mask(int64_t count) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_castsi256_ps(
      _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::min<int64_t>(count, 8))), lane));
}

inline __m256 active8(const OptimizerHyper& h, __m256 g, __m256 valid) {
  const __m256 zero = _mm256_setzero_ps();
  __m256 m = _mm256_and_ps(valid, _mm256_cmp_ps(_mm256_sub_ps(g, g), zero, _CMP_EQ_OQ));
  if (h.skip_zeros) m = _mm256_and_ps(m, _mm256_cmp_ps(g, zero, _CMP_NEQ_UQ));
  return m;
}

template <typename T>
inline __m256 load_n(const T* p, int64_t count) {
  return count >= 8 ? load8(p) : load8_partial(p, count);
}

// Stores the lanes of v where mask is set (count valid lanes at most).
template <typename T>
inline void store_masked(T* p, __m256 v, __m256 mask, int64_t count) {
  const int bits = _mm256_movemask_ps(mask);
  if (count >= 8 && bits == 0xFF) {
    store8(p, v);
    return;
  }
  T tmp[8];
  store8(tmp, v);
  for (int k = 0; k < 8 && k < count; ++k)
    if (bits & (1 << k)) p[k] = tmp[k];
}

// ---- the midpoint search (tables as in the AVX-512 path) -----------------------
inline constexpr int kOff128 = 0, kOff64 = 8, kOff32 = 16, kOff16 = 24, kOff8 = 32, kOff4 = 48, kOff2 = 80, kOff1 = 144;

struct Search {
  alignas(32) float v[272];
  int zero;
};

inline void build_search(const float* mids, int zero, Search& t) {
  std::fill(t.v, t.v + 272, 0.0f);
  const int offs[8] = {kOff128, kOff64, kOff32, kOff16, kOff8, kOff4, kOff2, kOff1};
  int level = 0;
  for (int s = 128; s > 0; s >>= 1, ++level)
    for (int k = 0; k < 128 / s; ++k) t.v[offs[level] + k] = mids[k * 2 * s + s - 1];
  t.zero = zero;
}

inline __m256i step_pos(__m256i pos, __m256 cand, __m256 x, int step) {
  const __m256i lt = _mm256_castps_si256(_mm256_cmp_ps(cand, x, _CMP_LT_OQ));
  return _mm256_add_epi32(pos, _mm256_and_si256(lt, _mm256_set1_epi32(step)));
}

inline __m256i nearest8(const Search& t, __m256 x) {
  __m256i pos = _mm256_setzero_si256();
  pos = step_pos(pos, _mm256_set1_ps(t.v[kOff128]), x, 128);
  pos = step_pos(pos, _mm256_permutevar8x32_ps(_mm256_load_ps(t.v + kOff64), _mm256_srli_epi32(pos, 7)), x, 64);
  pos = step_pos(pos, _mm256_permutevar8x32_ps(_mm256_load_ps(t.v + kOff32), _mm256_srli_epi32(pos, 6)), x, 32);
  pos = step_pos(pos, _mm256_permutevar8x32_ps(_mm256_load_ps(t.v + kOff16), _mm256_srli_epi32(pos, 5)), x, 16);
  {
    const __m256i idx = _mm256_srli_epi32(pos, 4);  // 0..15
    const __m256 lo = _mm256_permutevar8x32_ps(_mm256_load_ps(t.v + kOff8), idx);
    const __m256 hi = _mm256_permutevar8x32_ps(_mm256_load_ps(t.v + kOff8 + 8), idx);
    const __m256 upper = _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28));  // bit 3 -> sign bit
    pos = step_pos(pos, _mm256_blendv_ps(lo, hi, upper), x, 8);
  }
  pos = step_pos(pos, _mm256_i32gather_ps(t.v + kOff4, _mm256_srli_epi32(pos, 3), 4), x, 4);
  pos = step_pos(pos, _mm256_i32gather_ps(t.v + kOff2, _mm256_srli_epi32(pos, 2), 4), x, 2);
  pos = step_pos(pos, _mm256_i32gather_ps(t.v + kOff1, _mm256_srli_epi32(pos, 1), 4), x, 1);
  if (t.zero >= 0) {
    const __m256 zero = _mm256_setzero_ps();
    const __m256i at_zero = _mm256_cmpeq_epi32(pos, _mm256_set1_epi32(t.zero));
    const __m256i neg = _mm256_and_si256(at_zero, _mm256_castps_si256(_mm256_cmp_ps(x, zero, _CMP_LT_OQ)));
    const __m256i posv = _mm256_and_si256(at_zero, _mm256_castps_si256(_mm256_cmp_ps(x, zero, _CMP_GT_OQ)));
    pos = _mm256_sub_epi32(_mm256_add_epi32(pos, neg), posv);  // masks are -1
  }
  return pos;
}

// bucket_nearest_code() of a CodeBuckets table (optimizer_update.h), 8 lanes.
inline __m256i bucket8(const CodeBuckets& t, __m256 x) {
  const __m256i bits = _mm256_castps_si256(x);
  const __m256i sign = _mm256_srai_epi32(bits, 31);
  const __m256i a = _mm256_and_si256(bits, _mm256_set1_epi32(0x7FFFFFFF));
  __m256i c = _mm256_srl_epi32(a, _mm_cvtsi32_si128(t.shift));
  c = _mm256_min_epu32(_mm256_max_epu32(c, _mm256_set1_epi32(t.c_lo)), _mm256_set1_epi32(t.c_hi));
  // negative: c_hi - c = ((c - c_lo) ^ -1) + h; positive: h + c - c_lo
  const __m256i idx = _mm256_add_epi32(_mm256_xor_si256(_mm256_sub_epi32(c, _mm256_set1_epi32(t.c_lo)), sign),
                                       _mm256_set1_epi32(t.c_hi - t.c_lo + 1));
  const __m256i e = _mm256_i32gather_epi32(reinterpret_cast<const int*>(t.entry), idx, 4);
  const __m256i mask = _mm256_set1_epi32(static_cast<int>((1u << t.shift) - 1u));
  const __m256i low = _mm256_and_si256(_mm256_xor_si256(bits, sign), mask);
  const __m256i gt = _mm256_cmpgt_epi32(low, _mm256_and_si256(e, mask));              // both < 2^24
  __m256i pos = _mm256_sub_epi32(_mm256_srli_epi32(e, 24), gt);                       // gt is -1
  pos = _mm256_and_si256(pos, _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_ORD_Q)));  // NaN -> 0
  if (t.zero < 0) return pos;  // else the table holds fix_sign(), but for +-0
  const __m256 is_zero = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_EQ_OQ);
  return _mm256_castps_si256(
      _mm256_blendv_ps(_mm256_castsi256_ps(pos), _mm256_castsi256_ps(_mm256_set1_epi32(t.zero_code)), is_zero));
}

// The requantization tables of one map, kept per thread and rebuilt only when
// the map changes: the bucket table, else the binary search.
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
  const __m256 inv = _mm256_set1_ps(amax > 0.0f ? 1.0f / amax : 0.0f);
  for (int64_t j = 0; j < len; j += 8) {
    const __m256 x = mul(_mm256_load_ps(v + j), inv);
    const __m256i pos = t.buckets.ok ? bucket8(t.buckets, x) : nearest8(t.search, x);
    const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(pos), _mm256_extracti128_si256(pos, 1));
    const __m128i b = _mm_packus_epi16(w, w);
    if (j + 8 <= len) {
      _mm_storel_epi64(reinterpret_cast<__m128i*>(q + j), b);
    } else {
      alignas(16) uint8_t tmp[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(tmp), b);
      std::memcpy(q + j, tmp, static_cast<size_t>(len - j));
    }
  }
}

inline __m256 dequant8(const uint8_t* q, int64_t count, const float* code, __m256 amax) {
  uint8_t tmp[8] = {};
  std::memcpy(tmp, q, static_cast<size_t>(std::min<int64_t>(count, 8)));
  const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(tmp)));
  return mul(_mm256_i32gather_ps(code, idx, 4), amax);
}

inline __m256 abs8(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

template <OptimizerKind K, typename T>
void update_8bit_blocks8(const Optimizer8bitArgs& a, int64_t block_begin, int64_t block_end) {
  constexpr int64_t kBS = kOptimizerBlocksize;
  constexpr bool kTwo = has_state2(K);
  constexpr bool kMix = K == OptimizerKind::kAdEMAMix;
  const T* g = static_cast<const T*>(a.g);
  T* p = static_cast<T*>(a.p);
  const int64_t nblocks = num_blocks(a.n, kBS);
  static thread_local Requant t1, t2;  // ~33 KB each: off the stack
  build_requant(a.mids1, a.zero1, t1);
  if constexpr (kTwo) build_requant(a.mids2, -1, t2);
  const VHyper h = make_vhyper(a.h, 1.0f);
  alignas(32) float v1[kBS], v1b[kBS], v2[kBS];
  for (int64_t b = block_begin; b < block_end; ++b) {
    const int64_t start = b * kBS;
    const int64_t len = std::min(kBS, a.n - start);
    uint8_t* q1 = a.state1 + start;
    uint8_t* q1b = kMix ? a.state1 + a.n + start : q1;
    uint8_t* q2 = kTwo ? a.state2 + start : q1;
    const __m256 am1 = _mm256_set1_ps(a.absmax1[b]);
    const __m256 am1b = _mm256_set1_ps(kMix ? a.absmax1[nblocks + b] : 0.0f);
    const __m256 am2 = _mm256_set1_ps(kTwo ? a.absmax2[b] : 0.0f);
    __m256 mx1 = _mm256_setzero_ps(), mx1b = mx1, mx2 = mx1;
    for (int64_t j = 0; j < len; j += 8) {
      const int64_t count = len - j;
      const __m256 valid = valid_mask(count);
      const __m256 gi = load_n(g + start + j, count);
      const __m256 pi = load_n(p + start + j, count);
      const __m256 act = active8(a.h, gi, valid);
      const __m256 o1 = dequant8(q1 + j, count, a.qmap1, am1);
      const __m256 o1b = kMix ? dequant8(q1b + j, count, a.qmap1, am1b) : _mm256_setzero_ps();
      const __m256 o2 = kTwo ? dequant8(q2 + j, count, a.qmap2, am2) : _mm256_setzero_ps();
      __m256 s1 = o1, s1b = o1b, s2 = o2;
      const __m256 u = update_lanes<K>(h, _mm256_and_ps(act, gi), pi, s1, s1b, s2);
      store_masked(p + start + j, apply_lanes<K>(h, pi, u), act, count);
      // lanes past the end hold 0, so they leave the absmax alone
      const __m256 n1 = _mm256_and_ps(valid, select(act, o1, s1));
      _mm256_store_ps(v1 + j, n1);
      mx1 = _mm256_max_ps(abs8(n1), mx1);
      if constexpr (kMix) {
        const __m256 n1b = _mm256_and_ps(valid, select(act, o1b, s1b));
        _mm256_store_ps(v1b + j, n1b);
        mx1b = _mm256_max_ps(abs8(n1b), mx1b);
      }
      if constexpr (kTwo) {
        const __m256 n2 = _mm256_and_ps(valid, select(act, o2, s2));
        _mm256_store_ps(v2 + j, n2);
        mx2 = _mm256_max_ps(abs8(n2), mx2);
      }
    }
    const float m1 = hmax(mx1);
    a.absmax1[b] = m1;
    requantize_block(v1, len, m1, t1, q1);
    if constexpr (kMix) {
      const float m1b = hmax(mx1b);
      a.absmax1[nblocks + b] = m1b;
      requantize_block(v1b, len, m1b, t1, q1b);
    }
    if constexpr (kTwo) {
      const float m2 = hmax(mx2);
      a.absmax2[b] = m2;
      requantize_block(v2, len, m2, t2, q2);
    }
  }
}

template <typename T>
inline __m256 load_state(const float* s, int64_t count) {
  return count >= 8 ? _mm256_loadu_ps(s) : load8_partial(s, count);
}

template <OptimizerKind K, typename T>
void update_32bit8(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  constexpr bool kTwo = has_state2(K);
  constexpr bool kMix = K == OptimizerKind::kAdEMAMix;
  const T* g = static_cast<const T*>(a.g);
  T* p = static_cast<T*>(a.p);
  const float scale = unorm_scale(a.unorm_sum ? *a.unorm_sum : 0.0f, a.max_unorm, a.param_norm);
  const VHyper h = make_vhyper(a.h, scale);
  for (int64_t i = begin; i < end; i += 8) {
    const int64_t count = end - i;
    const __m256 valid = valid_mask(count);
    const __m256 gi = load_n(g + i, count);
    const __m256 pi = load_n(p + i, count);
    const __m256 act = active8(a.h, gi, valid);
    __m256 s1 = load_state<T>(a.state1 + i, count);
    __m256 s1b = kMix ? load_state<T>(a.state1 + a.n + i, count) : _mm256_setzero_ps();
    __m256 s2 = kTwo ? load_state<T>(a.state2 + i, count) : _mm256_setzero_ps();
    const __m256 u = update_lanes<K>(h, _mm256_and_ps(act, gi), pi, s1, s1b, s2);
    store_masked(p + i, apply_lanes<K>(h, pi, u), act, count);
    store_masked(a.state1 + i, s1, act, count);
    if constexpr (kMix) store_masked(a.state1 + a.n + i, s1b, act, count);
    if constexpr (kTwo) store_masked(a.state2 + i, s2, act, count);
  }
}

}  // namespace

double optimizer_32bit_unorm_avx2(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  return unorm_dispatch(a, begin, end);
}

void optimizer_32bit_avx2(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  dispatch_optimizer(a.kind, [&](auto k) {
    dispatch_dtype(a.dtype,
                   [&](auto t) { update_32bit8<decltype(k)::value, typename decltype(t)::type>(a, begin, end); });
  });
}

void nearest_codes_avx2(const float* mids, int zero, const float* x, int64_t n, uint8_t* q) {
  static thread_local Requant t;
  build_requant(mids, zero, t);
  alignas(32) float v[kOptimizerBlocksize];
  for (int64_t s = 0; s < n; s += kOptimizerBlocksize) {
    const int64_t len = std::min<int64_t>(kOptimizerBlocksize, n - s);
    std::copy(x + s, x + s + len, v);
    requantize_block(v, len, 1.0f, t, q + s);
  }
}

void optimizer_8bit_blockwise_avx2(const Optimizer8bitArgs& a, int64_t block_begin, int64_t block_end) {
  dispatch_optimizer(blockwise_kind(a.kind), [&](auto k) {
    constexpr OptimizerKind K = decltype(k)::value;
    if constexpr (K != OptimizerKind::kLamb && K != OptimizerKind::kLars) {
      dispatch_dtype(a.dtype,
                     [&](auto t) { update_8bit_blocks8<K, typename decltype(t)::type>(a, block_begin, block_end); });
    }
  });
}

}  // namespace bnb::cpu
