// The torch-free optimizer kernels: the midpoint search against a brute-force
// nearest code, and every SIMD path equal to the scalar path bit for bit (8-bit
// blockwise and 32-bit, every algorithm, fp32/bf16/fp16, non-finite gradients).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>

#include "common/format.h"
#include "common/optimizer.h"
#include "cpu/kernels/optimizer_update.h"
#include "optimizer_reference.h"
#include "test_util.h"

using namespace bnb;
using namespace bnb::cpu;

namespace {

int brute_nearest(const std::vector<float>& code, float x) {
  int best = 0;
  for (int i = 1; i < 256; ++i)
    if (std::fabs(code[i] - x) < std::fabs(code[best] - x)) best = i;  // ties keep the lower index
  return best;
}

template <typename T>
void check_8bit_paths(OptimizerKind kind, DType dtype) {
  const int64_t n = 256 * 7 + 45;
  const bool two = has_state2(blockwise_kind(kind));
  const int64_t copies = kind == OptimizerKind::kAdEMAMix ? 2 : 1;
  const auto code1 = dynamic_map(true), code2 = dynamic_map(false);
  float mids1[256], mids2[256];
  code_midpoints(code1.data(), mids1);
  code_midpoints(code2.data(), mids2);
  std::vector<T> p_ref;
  std::vector<uint8_t> s1_ref, s2_ref;
  std::vector<float> a1_ref;
  for (const auto& path : test::paths<Optimizer8bitFn>(optimizer_8bit_blockwise_scalar, optimizer_8bit_blockwise_avx2,
                                                       optimizer_8bit_blockwise_avx512)) {
    auto p = test::convert<T>(test::test_values(n, 1, false));
    std::vector<uint8_t> s1(copies * n, 0), s2(n, 0);
    std::vector<float> a1(copies * num_blocks(n, 256), 0.0f), a2(num_blocks(n, 256), 0.0f);
    for (int64_t step = 1; step <= 3; ++step) {
      auto gv = test::test_values(n, 10 + static_cast<uint32_t>(step), step == 2);
      for (auto& x : gv) x *= 0.05f;
      const auto g = test::convert<T>(gv);
      Optimizer8bitArgs a{};
      a.kind = kind;
      a.dtype = dtype;
      a.g = g.data();
      a.p = p.data();
      a.state1 = s1.data();
      a.state2 = two ? s2.data() : nullptr;
      a.qmap1 = code1.data();
      a.qmap2 = two ? code2.data() : nullptr;
      a.mids1 = mids1;
      a.mids2 = mids2;
      a.absmax1 = a1.data();
      a.absmax2 = two ? a2.data() : nullptr;
      a.n = n;
      a.zero1 = signed_zero_index(code1.data());
      a.h = test::optimizer_hyper(step);
      path.fn(a, 0, num_blocks(n, 256));
    }
    if (p_ref.empty()) {
      p_ref = p, s1_ref = s1, s2_ref = s2, a1_ref = a1;
      continue;
    }
    INFO(path.name);
    CHECK(std::memcmp(p.data(), p_ref.data(), n * sizeof(T)) == 0);
    CHECK(s1 == s1_ref);
    CHECK(s2 == s2_ref);
    CHECK(std::memcmp(a1.data(), a1_ref.data(), a1.size() * sizeof(float)) == 0);
  }
}

template <typename T>
void check_32bit_paths(OptimizerKind kind, DType dtype) {
  const int64_t n = 1000 + 7;
  const int64_t copies = kind == OptimizerKind::kAdEMAMix ? 2 : 1;
  std::vector<T> p_ref;
  std::vector<float> s1_ref;
  for (const auto& path :
       test::paths<Optimizer32bitFn>(optimizer_32bit_scalar, optimizer_32bit_avx2, optimizer_32bit_avx512)) {
    auto p = test::convert<T>(test::test_values(n, 2, false));
    std::vector<float> s1(copies * n, 0.0f), s2(n, 0.0f);
    for (int64_t step = 1; step <= 3; ++step) {
      const auto g = test::convert<T>(test::test_values(n, 20 + static_cast<uint32_t>(step), step == 2));
      Optimizer32bitArgs a{};
      a.kind = kind;
      a.dtype = dtype;
      a.g = g.data();
      a.p = p.data();
      a.state1 = s1.data();
      a.state2 = has_state2(kind) ? s2.data() : nullptr;
      a.n = n;
      a.h = test::optimizer_hyper(step);
      path.fn(a, 0, n);
    }
    if (p_ref.empty()) {
      p_ref = p, s1_ref = s1;
      continue;
    }
    INFO(path.name);
    CHECK(std::memcmp(p.data(), p_ref.data(), n * sizeof(T)) == 0);
    CHECK(std::memcmp(s1.data(), s1_ref.data(), s1.size() * sizeof(float)) == 0);
  }
}

}  // namespace

TEST_CASE("optimizer: the midpoint search finds the nearest code", "[optimizer]") {
  for (const bool is_signed : {true, false}) {
    const auto code = dynamic_map(is_signed);
    float mids[256];
    code_midpoints(code.data(), mids);
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> xs;
    for (int i = 0; i < 20000; ++i) xs.push_back(u(rng) * std::pow(10.0f, -6.0f * std::fabs(u(rng))));
    xs.push_back(-2.0f);
    xs.push_back(2.0f);
    for (const float x : xs) {
      INFO("x = " << x);
      REQUIRE(nearest_code(mids, x) == brute_nearest(code, x));
    }
    // a value equal to the (fp32-rounded) midpoint goes to the lower code
    for (int i = 0; i < 255; ++i) REQUIRE(nearest_code(mids, mids[i]) == i);
  }
}

TEST_CASE("optimizer: a signed state never rounds a nonzero value to 0", "[optimizer]") {
  const auto code = dynamic_map(true);
  float mids[256];
  code_midpoints(code.data(), mids);
  const int zero = signed_zero_index(code.data());
  REQUIRE(zero == 127);
  CHECK(fix_sign(nearest_code(mids, -1e-9f), zero, -1e-9f) == 126);
  CHECK(fix_sign(nearest_code(mids, 1e-9f), zero, 1e-9f) == 128);
  CHECK(fix_sign(nearest_code(mids, 0.0f), zero, 0.0f) == 127);
  CHECK(signed_zero_index(dynamic_map(false).data()) == -1);
}

TEST_CASE("optimizer: 8-bit blockwise SIMD paths equal the scalar path", "[optimizer]") {
  for (const OptimizerKind k : test::kOptimizerKinds) {
    INFO("kind " << static_cast<int>(k));
    check_8bit_paths<float>(k, DType::kF32);
    check_8bit_paths<bf16_t>(k, DType::kBF16);
    check_8bit_paths<fp16_t>(k, DType::kF16);
  }
#if defined(BNB_HAVE_X86_KERNELS)
  if (cpu::cpu_features().avx512_vbmi) {  // the AVX-512 path without VBMI too
    optimizer_avx512_vbmi() = false;
    for (const OptimizerKind k : test::kOptimizerKinds) {
      INFO("kind " << static_cast<int>(k) << " without VBMI");
      check_8bit_paths<float>(k, DType::kF32);
      check_8bit_paths<bf16_t>(k, DType::kBF16);
    }
    optimizer_avx512_vbmi() = true;
  }
#endif
}

TEST_CASE("optimizer: 32-bit SIMD paths equal the scalar path", "[optimizer]") {
  for (const OptimizerKind k : test::kOptimizerKinds) {
    INFO("kind " << static_cast<int>(k));
    check_32bit_paths<float>(k, DType::kF32);
    check_32bit_paths<bf16_t>(k, DType::kBF16);
  }
}

TEST_CASE("optimizer: a non-finite gradient leaves its element untouched", "[optimizer]") {
  const int64_t n = 300;
  std::vector<float> p(n, 1.0f), s1(n, 0.5f), s2(n, 0.25f), g(n, 0.1f);
  g[3] = std::numeric_limits<float>::quiet_NaN();
  g[4] = std::numeric_limits<float>::infinity();
  Optimizer32bitArgs a{};
  a.kind = OptimizerKind::kAdam;
  a.dtype = DType::kF32;
  a.g = g.data();
  a.p = p.data();
  a.state1 = s1.data();
  a.state2 = s2.data();
  a.n = n;
  a.h = test::optimizer_hyper(2);
  optimizer_32bit(a, 0, n);
  CHECK(p[3] == 1.0f);
  CHECK(s1[4] == 0.5f);
  CHECK(s2[3] == 0.25f);
  CHECK(p[5] != 1.0f);
}

namespace {

// Values that probe every bucket edge of a map: each midpoint and its fp32
// neighbours, random values over many magnitudes, and the specials.
std::vector<float> probe_values(const float* mids) {
  std::vector<float> xs;
  for (int i = 0; i < 255; ++i) {
    const float m = mids[i];
    xs.push_back(m);
    xs.push_back(std::nextafter(m, -INFINITY));
    xs.push_back(std::nextafter(m, INFINITY));
    xs.push_back(-m);
  }
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int i = 0; i < 20000; ++i) xs.push_back(u(rng) * std::pow(2.0f, -40.0f * std::fabs(u(rng))));
  for (int i = 0; i < 2000; ++i) xs.push_back(u(rng) * 1.001f);
  const float specials[] = {0.0f,  -0.0f,      1e-45f,      -1e-45f, 1e-39f, -1e-39f,  1e-30f,    -1e-30f, 1.0f,
                            -1.0f, 1.0000001f, -1.0000001f, 3e38f,   -3e38f, INFINITY, -INFINITY, NAN,     -NAN};
  for (const float x : specials) xs.push_back(x);
  return xs;
}

void check_buckets(const std::vector<float>& code, bool expect_table) {
  float mids[256];
  code_midpoints(code.data(), mids);
  const int zero = signed_zero_index(code.data());
  static CodeBuckets t;
  build_code_buckets(mids, zero, t);
  INFO("table " << t.ok << " shift " << t.shift << " c " << t.c_lo << ".." << t.c_hi);
  CHECK(t.ok == expect_table);
  const auto xs = probe_values(mids);
  std::vector<uint8_t> simd(xs.size()), simd2(xs.size());
  const bool avx512 = cpu::cpu_features().avx512, avx2 = cpu::cpu_features().avx2;
#if defined(BNB_HAVE_X86_KERNELS)
  if (avx512) nearest_codes_avx512(mids, zero, xs.data(), static_cast<int64_t>(xs.size()), simd.data());
  if (avx2) nearest_codes_avx2(mids, zero, xs.data(), static_cast<int64_t>(xs.size()), simd2.data());
#endif
  for (size_t i = 0; i < xs.size(); ++i) {
    const float x = xs[i];
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    INFO("x = " << x << " bits " << std::hex << bits);
    const int want = nearest_code(mids, x);
    if (t.ok) REQUIRE(bucket_nearest_code(t, x) == fix_sign(want, zero, x));
    if (avx512) REQUIRE(static_cast<int>(simd[i]) == fix_sign(want, zero, x));
    if (avx2) REQUIRE(static_cast<int>(simd2[i]) == fix_sign(want, zero, x));
  }
}

}  // namespace

TEST_CASE("optimizer: the bucket table equals the midpoint search", "[optimizer]") {
  // the dynamic maps the optimizers use
  check_buckets(dynamic_map(true), true);
  check_buckets(dynamic_map(false), true);
  // a linear map (a midpoint at exactly 0), and one with -0 and +0 codes
  std::vector<float> lin(256), zeros(256);
  for (int i = 0; i < 256; ++i) lin[i] = -1.0f + 2.0f * static_cast<float>(i) / 255.0f;
  check_buckets(lin, true);
  for (int i = 0; i < 256; ++i)
    zeros[i] = i < 100 ? -1.0f + i / 100.0f : (i < 130 ? (i & 1 ? 0.0f : -0.0f) : i / 255.0f);
  check_buckets(zeros, false);
  // random sorted maps, without and with clustered (duplicate) codes
  std::mt19937 rng(3);
  for (int trial = 0; trial < 20; ++trial) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> code(256);
    for (auto& c : code) c = trial % 2 ? u(rng) * std::pow(10.0f, -8.0f * std::fabs(u(rng))) : u(rng);
    if (trial % 5 == 4)
      for (int i = 0; i < 256; i += 3) code[i] = code[i / 2];
    std::sort(code.begin(), code.end());
    INFO("trial " << trial);
    float mids[256];
    code_midpoints(code.data(), mids);
    static CodeBuckets t;
    build_code_buckets(mids, signed_zero_index(code.data()), t);
    check_buckets(code, t.ok);
  }
  // a map with +-inf ends (an inf midpoint) and one with a NaN midpoint (-inf next to +inf)
  auto inf_ends = dynamic_map(true);
  inf_ends[0] = -INFINITY;
  inf_ends[255] = INFINITY;
  check_buckets(inf_ends, false);
  std::vector<float> nan_mid(256, -INFINITY);
  for (int i = 128; i < 256; ++i) nan_mid[i] = INFINITY;
  check_buckets(nan_mid, false);
}
