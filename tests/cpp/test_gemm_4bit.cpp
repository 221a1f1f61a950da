#include <catch2/catch.hpp>

#include <cmath>

#include "cpu/kernels/gemm_4bit.h"
#include "gemm_4bit_reference.h"
#include "test_util.h"

using namespace bnb;
using namespace bnb::cpu;

namespace {

using Problem = test::Gemm4bitProblem;

template <typename T>
std::vector<T> run(const Gemm4bitPath& path, const Problem& p, const std::vector<T>& A, DType dtype) {
  std::vector<T> out(p.M * p.N);
  const Gemm4bitArgs a = p.args(A.data(), dtype, out.data());
  std::vector<uint8_t> ws(static_cast<size_t>(path.workspace_bytes(a)) + 128);
  void* w = ws.data() + (64 - reinterpret_cast<uintptr_t>(ws.data()) % 64) % 64;  // as torch allocates
  // split the rows and the columns unevenly, as threads would
  const int64_t half = std::min(p.M, (p.M / 2 + path.row_group - 1) / path.row_group * path.row_group);
  path.pack_a(a, w, 0, half);
  path.pack_a(a, w, half, p.M);
  const int64_t cut = std::min(p.N, path.column_group * ((p.N / path.column_group) / 3));
  path.run(a, w, 0, cut);
  path.run(a, w, cut, p.N);
  return out;
}

// Every path this machine runs: the scalar one first.
std::vector<const Gemm4bitPath*> all_paths() {
  std::vector<const Gemm4bitPath*> paths{&gemm_4bit_scalar_path()};
  const auto& f = cpu_features();
  for (const Gemm4bitPath* p : {gemm_4bit_avx2_path(), gemm_4bit_avx2_int16_path(), gemm_4bit_avx2_tiled_path()})
    if (f.avx2 && p) paths.push_back(p);
  for (const Gemm4bitPath* p : {gemm_4bit_avx512_path(), gemm_4bit_avx512_tiled_path()})
    if (f.avx512 && p) paths.push_back(p);
  if (f.amx && gemm_4bit_amx_path()) paths.push_back(gemm_4bit_amx_path());
  return paths;
}

bool is_tiled(const Gemm4bitPath* path) {
  return path == gemm_4bit_avx2_tiled_path() || path == gemm_4bit_avx512_tiled_path() || path == gemm_4bit_amx_path();
}

template <typename T>
void check_problem(const Problem& p, DType dtype) {
  const std::vector<T> A = p.input<T>();
  const test::Gemm4bitExpected expected = test::gemm_4bit_expected(p, A);  // once for every path
  for (const Gemm4bitPath* path : all_paths()) {
    const Gemm4bitArgs probe = p.args(A.data(), dtype, nullptr);
    if (!path->supports(probe)) continue;
    const std::vector<T> out = run<T>(*path, p, A, dtype);
    INFO("path " << path->name << " M=" << p.M << " N=" << p.N << " K=" << p.K << " bs=" << p.bs
                 << " nested=" << p.nested);
    REQUIRE(test::gemm_4bit_worst_error(expected, out, dtype) <= 1.0);
  }
}

}  // namespace

TEST_CASE("gemm_4bit: every path equals the definition within rounding", "[gemm_4bit]") {
  uint32_t seed = 1;
  for (QuantType qt : {QuantType::kNF4, QuantType::kFP4})
    for (int64_t bs : {32, 64, 128, 256, 1024, 4096})
      for (const auto& [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{1, 37, 4096},
                                    {1, 16, 2 * bs},
                                    {2, 9, bs},
                                    {3, 24, 3 * bs},
                                    {4, 8, 256},
                                    {5, 13, 4096},
                                    {17, 19, 128},
                                    {33, 50, 2 * bs},
                                    {2, 7, 100},
                                    {3, 5, 33}})
        for (bool nested : {false, true}) {
          const Problem p(m, n, k, bs, qt, nested, (seed & 1) != 0, seed++);
          check_problem<float>(p, DType::kF32);
          check_problem<fp16_t>(p, DType::kF16);
          check_problem<bf16_t>(p, DType::kBF16);
        }
}

TEST_CASE("gemm_4bit: scalar path equals the fp32 column-order sum of dtype-rounded weights bit for bit",
          "[gemm_4bit]") {
  const Problem p(3, 11, 96, 32, QuantType::kNF4, false, true, 77);
  const std::vector<bf16_t> A = test::convert<bf16_t>(test::test_values(p.M * p.K, 5, false));
  const std::vector<bf16_t> out = run<bf16_t>(gemm_4bit_scalar_path(), p, A, DType::kBF16);
  const float* code = code_table(p.qt).data();
  for (int64_t m = 0; m < p.M; ++m)
    for (int64_t n = 0; n < p.N; ++n) {
      float acc = 0.0f;
      for (int64_t k = 0; k < p.K; ++k) {
        const int64_t e = n * p.K + k;
        const uint8_t b = p.packed[e / 2];
        const float w = to_f32(from_f32<bf16_t>(code[(e & 1) ? low_nibble(b) : high_nibble(b)] * p.absmax[e / p.bs]));
        acc += to_f32(A[m * p.K + k]) * w;
      }
      REQUIRE(from_f32<bf16_t>(acc + p.bias_v[n]).bits == out[m * p.N + n].bits);
    }
}

// The tiled paths (fp32 panels, AMX bf16 panels) decode each weight rounded to A's dtype, as the scalar
// path does, and sum the exact products in fp32 in another order: each output is within the fp32 sum's
// error bound (gamma_K * sum |a w|, gamma_K = K u32 / (1 - K u32)) plus the rounding of the result to T.
template <typename T>
void check_rounded_weights(const Problem& p, DType dtype) {
  const std::vector<T> A = test::convert<T>(test::test_values(p.M * p.K, static_cast<uint32_t>(p.M + p.K), false));
  std::vector<float> w(p.N * p.K);
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < p.K; ++k) w[n * p.K + k] = to_f32(from_f32<T>(p.weight(n, k)));
  const double u32 = std::ldexp(1.0, -24), gamma = p.K * u32 / (1 - p.K * u32);
  const double uT = dtype == DType::kF32 ? u32 : dtype == DType::kF16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);
  for (const Gemm4bitPath* path : all_paths()) {
    const Gemm4bitArgs probe = p.args(A.data(), dtype, nullptr);
    if (!is_tiled(path) || !path->supports(probe)) continue;
    const std::vector<T> out = run<T>(*path, p, A, dtype);
    INFO("path " << path->name << " M=" << p.M << " N=" << p.N << " K=" << p.K << " bs=" << p.bs);
    double worst = 0;
    for (int64_t m = 0; m < p.M; ++m)
      for (int64_t n = 0; n < p.N; ++n) {
        double s = p.bias ? p.bias_v[n] : 0.0, abs_sum = 0;
        for (int64_t k = 0; k < p.K; ++k) {
          const double prod = double(to_f32(A[m * p.K + k])) * w[n * p.K + k];
          s += prod, abs_sum += std::fabs(prod);
        }
        const double sum_err = gamma * abs_sum + u32 * std::fabs(s);  // + the bias addition
        const double bound = sum_err + uT * (std::fabs(s) + sum_err) + 1e-30;
        worst = std::max(worst, std::fabs(double(to_f32(out[m * p.N + n])) - s) / bound);
      }
    REQUIRE(worst <= 1.0);
  }
}

TEST_CASE("gemm_4bit: tiled paths use dtype-rounded weights, within fp32 summation and output rounding",
          "[gemm_4bit]") {
  uint32_t seed = 500;
  // batch super-blocks (64 rows fp32, 128 AMX), K blocks (whole and partial chunks), partial weight
  // panels (48 / 32 rows), partial column chunks, blocks longer than a chunk, nested scales
  for (const auto& [m, n, k, bs] : {std::tuple<int64_t, int64_t, int64_t, int64_t>{70, 50, 8192, 64},
                                    {150, 17, 4096 + 192, 64},
                                    {40, 97, 1024, 32},
                                    {21, 33, 4096 + 64, 64},
                                    {9, 64, 8192, 4096},
                                    {1, 16, 256, 128}})
    for (bool nested : {false, true}) {
      const Problem p(m, n, k, bs, QuantType::kNF4, nested, (seed & 1) != 0, seed++);
      check_rounded_weights<float>(p, DType::kF32);
      check_rounded_weights<fp16_t>(p, DType::kF16);
      check_rounded_weights<bf16_t>(p, DType::kBF16);
    }
}

// The AVX2 int16 path (docs/formats.md, "4-bit matmul with 16-bit activations on AVX2"): A is rounded per row and
// 64 columns to multiples of step = 2^(e - 14) with max|a| < 2^e (error <= step / 2 <= 2^-14 max|a|), the code to
// multiples of max|code| / 16383 (error <= max|code| / 32766, times the block scale); products are summed exactly
// in int32 per 64 columns, then in fp32: at most K / 64 + 12 roundings of u32 = 2^-24 on the sum of |terms|
// (the scale products, the conversion, the lane sums, the bias), and the result is rounded to T.
template <typename T>
void check_int16_bound(const Problem& p, const std::vector<float>& a_values, DType dtype) {
  const Gemm4bitPath* path = gemm_4bit_avx2_int16_path();
  const std::vector<T> A = test::convert<T>(a_values);
  const Gemm4bitArgs probe = p.args(A.data(), dtype, nullptr);
  REQUIRE(path->supports(probe));
  const std::vector<T> out = run<T>(*path, p, A, dtype);
  const float* code = code_table(p.qt).data();
  double cmax = 0;
  for (int i = 0; i < 16; ++i) cmax = std::max(cmax, double(std::fabs(code[i])));
  const double u32 = std::ldexp(1.0, -24), uT = dtype == DType::kF16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);
  double worst = 0, worst_vs_tol = 0;
  for (int64_t m = 0; m < p.M; ++m)
    for (int64_t n = 0; n < p.N; ++n) {
      double s = p.bias ? p.bias_v[n] : 0.0, err = 0, terms = 0, s2 = 0;
      for (int64_t g = 0; g < p.K / 64; ++g) {
        double amax = 0;
        for (int64_t k = 64 * g; k < 64 * g + 64; ++k) amax = std::max(amax, std::fabs(double(to_f32(A[m * p.K + k]))));
        const double da = std::ldexp(amax, -14);
        for (int64_t k = 64 * g; k < 64 * g + 64; ++k) {
          const double a = to_f32(A[m * p.K + k]), w = p.weight(n, k);
          const double dw = std::fabs(double(p.scale((n * p.K + k) / p.bs))) * cmax / 32766;
          s += a * w, s2 += a * w * a * w;
          err += da * std::fabs(w) + (std::fabs(a) + da) * dw;
          terms += (std::fabs(a) + da) * (std::fabs(w) + dw);
        }
      }
      err += (p.K / 64 + 12) * u32 * (terms + std::fabs(p.bias ? p.bias_v[n] : 0.0));
      const double bound = err + uT * (std::fabs(s) + err) + 1e-37;
      const double e = std::fabs(double(to_f32(out[m * p.N + n])) - s);
      worst = std::max(worst, e / bound);
      worst_vs_tol = std::max(worst_vs_tol, e / (std::fabs(s) + std::sqrt(s2) + 1e-30));
    }
  INFO("M=" << p.M << " N=" << p.N << " K=" << p.K << " bs=" << p.bs << " nested=" << p.nested
            << " worst error / (|y| + sqrt(sum (a w)^2)) = " << worst_vs_tol);
  REQUIRE(worst <= 1.0);
}

TEST_CASE("gemm_4bit: the AVX2 int16 path stays within its rounding bound", "[gemm_4bit]") {
  if (!cpu_features().avx2 || gemm_4bit_avx2_int16_path() == nullptr) {
    WARN("skipped: this CPU has no AVX2");
    return;
  }
  uint32_t seed = 900;
  for (QuantType qt : {QuantType::kNF4, QuantType::kFP4})
    for (const auto& [m, n, k, bs] : {std::tuple<int64_t, int64_t, int64_t, int64_t>{1, 37, 4096, 64},
                                      {2, 16, 1024, 32},
                                      {3, 24, 768, 256},
                                      {4, 9, 8192, 4096},
                                      {7, 8, 256, 128}})
      for (bool nested : {false, true}) {
        const Problem p(m, n, k, bs, qt, nested, (seed & 1) != 0, seed++);
        // normal values, then per row: an outlier 1e3x its group (the output stays in fp16 range), a group of
        // subnormal-range values, a zero group
        std::vector<float> a = test::test_values(m * k, seed, false);
        for (int64_t r = 0; r < m; ++r) {
          a[r * k + 5] = 2e3f;
          for (int64_t i = 64; i < 128; ++i) a[r * k + i] *= 1e-38f;
          for (int64_t i = 128; i < 192; ++i) a[r * k + i] = 0.0f;
        }
        check_int16_bound<bf16_t>(p, a, DType::kBF16);
        check_int16_bound<fp16_t>(p, a, DType::kF16);
      }
}

// Errors that do not cancel: every weight is code 1.0 and every A value but the group maximum (1.0, so the step is
// 2^-13) lies 0.375 step above a multiple of it, so each rounds down by 0.375 step; a step 4x coarser (12 bits)
// would round 101.375 steps down by 1.375 steps and break the bound.
TEST_CASE("gemm_4bit: the AVX2 int16 bound holds when A's rounding errors add up", "[gemm_4bit]") {
  if (!cpu_features().avx2 || gemm_4bit_avx2_int16_path() == nullptr) {
    WARN("skipped: this CPU has no AVX2");
    return;
  }
  Problem p(2, 8, 4096, 64, QuantType::kNF4, false, false, 5);
  std::fill(p.packed.begin(), p.packed.end(), uint8_t{0xFF});  // NF4 index 15: code 1.0
  std::vector<float> a(p.M * p.K, std::ldexp(101.375f, -13));  // exact in fp16
  for (int64_t i = 0; i < p.M * p.K; i += 64) a[i] = 1.0f;
  check_int16_bound<fp16_t>(p, a, DType::kF16);
}

TEST_CASE("gemm_4bit: AVX2 int16 rows with Inf or NaN equal the scalar path, the other rows are unchanged",
          "[gemm_4bit]") {
  if (!cpu_features().avx2 || gemm_4bit_avx2_int16_path() == nullptr) {
    WARN("skipped: this CPU has no AVX2");
    return;
  }
  const Problem p(4, 21, 512, 64, QuantType::kNF4, true, true, 31);
  std::vector<float> a = test::test_values(p.M * p.K, 32, false);
  const std::vector<bf16_t> clean = test::convert<bf16_t>(a);
  a[1 * p.K + 300] = std::numeric_limits<float>::infinity();
  a[3 * p.K + 7] = std::numeric_limits<float>::quiet_NaN();
  const std::vector<bf16_t> bad = test::convert<bf16_t>(a);
  const std::vector<bf16_t> got = run<bf16_t>(*gemm_4bit_avx2_int16_path(), p, bad, DType::kBF16);
  const std::vector<bf16_t> scalar = run<bf16_t>(gemm_4bit_scalar_path(), p, bad, DType::kBF16);
  const std::vector<bf16_t> before = run<bf16_t>(*gemm_4bit_avx2_int16_path(), p, clean, DType::kBF16);
  for (int64_t m = 0; m < p.M; ++m)
    for (int64_t n = 0; n < p.N; ++n) {
      const size_t i = m * p.N + n;
      INFO("row " << m << " column " << n);
      REQUIRE(got[i].bits == (m == 1 || m == 3 ? scalar[i] : before[i]).bits);
    }
  for (int64_t n = 0; n < p.N; ++n) REQUIRE(std::isnan(to_f32(got[3 * p.N + n])));
}
