// Scalar reference path of the CPU optimizer kernels and the run-time path choice.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu_features.h"
#include "optimizer_update_impl.h"

namespace bnb::cpu {
namespace {

uint32_t f32_bits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

// Order key of a non-NaN float (monotone; -0 and +0 both map to 0 for midpoints).
int32_t order_key(float x) {
  const uint32_t b = f32_bits(x);
  if (x == 0.0f) return 0;
  return (b >> 31) ? -1 - static_cast<int32_t>(b & 0x7FFFFFFFu) : static_cast<int32_t>(b);
}

// Fills the entries for one shift; false when a bucket holds two midpoints or
// the table is too large.
bool fill_buckets(const int32_t* keys, const uint32_t* mags, int shift, CodeBuckets& t) {
  const int zero = t.zero;
  uint32_t cmin = 0xFFFFFFFFu, cmax = 0;
  bool zero_mid = false;
  for (int i = 0; i < 255; ++i) {
    if (mags[i] == 0) {
      zero_mid = true;
      continue;
    }
    cmin = std::min(cmin, mags[i] >> shift);
    cmax = std::max(cmax, mags[i] >> shift);
  }
  if (cmin == 0xFFFFFFFFu) cmin = cmax = 0;
  const int64_t c_lo = zero_mid || cmin == 0 ? 0 : static_cast<int64_t>(cmin) - 1;
  const int64_t c_hi = static_cast<int64_t>(cmax) + 1;
  const int64_t h = c_hi - c_lo + 1;
  if (2 * h > CodeBuckets::kMaxEntries) return false;
  const uint32_t mask = (1u << shift) - 1u;
  const int32_t* kend = keys + 255;
  for (int neg = 0; neg < 2; ++neg) {
    for (int64_t c = c_lo; c <= c_hi; ++c) {
      // the range of order keys of the bucket, [kl, kh]
      const int64_t a_lo = (c == c_lo) ? 0 : c << shift;
      const int64_t a_hi = (c == c_hi) ? 0x7FFFFFFF : ((c + 1) << shift) - 1;
      const int64_t kl = neg ? -1 - a_hi : a_lo;
      const int64_t kh = neg ? -1 - a_lo : a_hi;
      const auto lo = std::lower_bound(keys, kend, kl) - keys;
      // midpoints m with kl <= key(m) < kh (one with key(m) == kh is below no x of the bucket)
      const int64_t cnt = (std::lower_bound(keys, kend, kh) - keys) - lo;
      const bool clamped = (c == c_hi) || (c == c_lo && c_lo > 0);
      if (cnt > 1 || (clamped && cnt > 0)) return false;
      int64_t base = lo;
      bool step = cnt == 1;
      if (zero >= 0) {  // fix_sign() folded in: x != 0 of this bucket never gives the zero code
        const auto fix = [&](int64_t r) { return r == zero ? (neg ? zero - 1 : zero + 1) : r; };
        const int64_t r0 = fix(lo), r1 = fix(lo + 1);
        if (step && r1 == r0)
          step = false;
        else if (step && r1 != r0 + 1)
          return false;
        base = r0;
      }
      if (base < 0 || base > 255) return false;
      const uint32_t thr = step ? static_cast<uint32_t>(keys[lo]) & mask : mask;
      const int64_t idx = neg ? c_hi - c : h + c - c_lo;
      t.entry[idx] = (static_cast<uint32_t>(base) << 24) | thr;
    }
  }
  t.shift = shift;
  t.c_lo = static_cast<int>(c_lo);
  t.c_hi = static_cast<int>(c_hi);
  return true;
}

}  // namespace

void build_code_buckets(const float* mids, int zero, CodeBuckets& t) {
  t.ok = false;
  t.zero = zero;
  t.zero_code = 0;
  if (zero >= 0) {  // +-0 keep their code, which the table must not need to tell apart
    t.zero_code = fix_sign(nearest_code(mids, 0.0f), zero, 0.0f);
    if (fix_sign(nearest_code(mids, -0.0f), zero, -0.0f) != t.zero_code) return;
  }
  int32_t keys[255];
  uint32_t mags[255];
  for (int i = 0; i < 255; ++i) {
    if (std::isnan(mids[i])) return;
    keys[i] = order_key(mids[i]);
    mags[i] = mids[i] == 0.0f ? 0u : f32_bits(mids[i]) & 0x7FFFFFFFu;
  }
  for (int m = 3; m <= 8; ++m) {
    if (fill_buckets(keys, mags, 23 - m, t)) {
      t.ok = true;
      return;
    }
  }
}

int bucket_nearest_code(const CodeBuckets& t, float x) {
  if (std::isnan(x)) return 0;
  if (t.zero >= 0 && x == 0.0f) return t.zero_code;
  const uint32_t b = f32_bits(x);
  const uint32_t a = b & 0x7FFFFFFFu;
  const int c = static_cast<int>(std::min<uint32_t>(std::max<uint32_t>(a >> t.shift, t.c_lo), t.c_hi));
  const int h = t.c_hi - t.c_lo + 1;
  const uint32_t e = t.entry[(b >> 31) ? t.c_hi - c : h + c - t.c_lo];
  const uint32_t mask = (1u << t.shift) - 1u;
  const uint32_t low = ((b >> 31) ? ~b : b) & mask;
  return static_cast<int>(e >> 24) + ((low > (e & mask)) ? 1 : 0);
}

double optimizer_32bit_unorm_scalar(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  return unorm_dispatch(a, begin, end);
}
void optimizer_32bit_scalar(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  update_32bit_dispatch(a, begin, end);
}
void optimizer_8bit_blockwise_scalar(const Optimizer8bitArgs& a, int64_t block_begin, int64_t block_end) {
  update_8bit_dispatch(a, block_begin, block_end);
}

#if defined(BNB_HAVE_X86_KERNELS)
double optimizer_32bit_unorm(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  return select_kernel<OptimizerUnormFn>(optimizer_32bit_unorm_scalar, optimizer_32bit_unorm_avx2,
                                         optimizer_32bit_unorm_avx512)(a, begin, end);
}
void optimizer_32bit(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  select_kernel<Optimizer32bitFn>(optimizer_32bit_scalar, optimizer_32bit_avx2, optimizer_32bit_avx512)(a, begin, end);
}
void optimizer_8bit_blockwise(const Optimizer8bitArgs& a, int64_t block_begin, int64_t block_end) {
  select_kernel<Optimizer8bitFn>(optimizer_8bit_blockwise_scalar, optimizer_8bit_blockwise_avx2,
                                 optimizer_8bit_blockwise_avx512)(a, block_begin, block_end);
}
#else
double optimizer_32bit_unorm(const Optimizer32bitArgs& a, int64_t begin, int64_t end) {
  return optimizer_32bit_unorm_scalar(a, begin, end);
}
void optimizer_32bit(const Optimizer32bitArgs& a, int64_t begin, int64_t end) { optimizer_32bit_scalar(a, begin, end); }
void optimizer_8bit_blockwise(const Optimizer8bitArgs& a, int64_t block_begin, int64_t block_end) {
  optimizer_8bit_blockwise_scalar(a, block_begin, block_end);
}
#endif

}  // namespace bnb::cpu
