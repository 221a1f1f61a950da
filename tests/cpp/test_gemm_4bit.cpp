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
  std::vector<uint8_t> ws(static_cast<size_t>(path.workspace_bytes(a)) + 64);
  void* w = ws.data();
  path.pack_a(a, w, 0, p.M / 2);
  path.pack_a(a, w, p.M / 2, p.M);
  // split the columns unevenly, as threads would
  const int64_t cut = std::min(p.N, kGemm4bitColumnGroup * ((p.N / kGemm4bitColumnGroup) / 3));
  path.run(a, w, 0, cut);
  path.run(a, w, cut, p.N);
  return out;
}

template <typename T>
void check_problem(const Problem& p, DType dtype) {
  const std::vector<T> A = p.input<T>();
  std::vector<const Gemm4bitPath*> paths{&gemm_4bit_scalar_path()};
  const auto& f = cpu_features();
  if (f.avx2 && gemm_4bit_avx2_path()) paths.push_back(gemm_4bit_avx2_path());
  if (f.avx512 && gemm_4bit_avx512_path()) paths.push_back(gemm_4bit_avx512_path());
  if (f.avx512_bf16 && gemm_4bit_avx512_bf16_path() && dtype == DType::kBF16)
    paths.push_back(gemm_4bit_avx512_bf16_path());
  for (const Gemm4bitPath* path : paths) {
    const Gemm4bitArgs probe = p.args(A.data(), dtype, nullptr);
    if (!path->supports(probe)) continue;
    const std::vector<T> out = run<T>(*path, p, A, dtype);
    INFO("path " << path->name << " M=" << p.M << " N=" << p.N << " K=" << p.K << " bs=" << p.bs
                 << " nested=" << p.nested);
    REQUIRE(test::gemm_4bit_worst_error(p, A, out, dtype) <= 1.0);
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
