// GPU gemv_4bit / gemm_4bit (HIP CPU runtime): every kernel (the grouped gemv
// kernel, the plain kernel, the weight dequantization of the GEMM path)
// against the fp64 definition shared with the CPU tests (docs/formats.md).
#include <tuple>

#include "cpu/kernels/gemm_4bit.h"
#include "cuda/kernels/launchers.h"
#include "gemm_4bit_reference.h"
#include "gpu_test_util.h"

using namespace bnb;

namespace {

template <typename T>
void check_gemm(const test::Gemm4bitProblem& p, DType dtype) {
  const std::vector<T> A = p.input<T>();
  std::vector<T> out(p.M * p.N);
  const Gemm4bitArgs a = p.args(A.data(), dtype, out.data());
  test::run_gpu([&] { return gpu::launch_gemm_4bit(a, nullptr); });
  INFO("M=" << p.M << " N=" << p.N << " K=" << p.K << " bs=" << p.bs << " nested=" << p.nested
            << " gemv kernel=" << gpu::gemm_4bit_uses_gemv(a) << " dtype=" << static_cast<int>(dtype));
  REQUIRE(test::gemm_4bit_worst_error(p, A, out, dtype) <= 1.0);

  // the dequantize + GEMM path's weight: W rounded to the dtype, exactly
  std::vector<T> w(p.N * p.K), expected(p.N * p.K);
  test::run_gpu([&] { return gpu::launch_dequantize_4bit_weight(a, w.data(), nullptr); });
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < p.K; ++k) expected[n * p.K + k] = from_f32<T>(p.weight(n, k));
  REQUIRE(test::same_bytes(w, expected));
}

}  // namespace

TEST_CASE("GPU gemm_4bit equals the definition within rounding, its weight dequantization exactly",
          "[gpu][gemm_4bit]") {
  uint32_t seed = 1;
  for (QuantType qt : {QuantType::kNF4, QuantType::kFP4})
    for (int64_t bs : {32, 64, 256, 4096})
      // gemv kernel: M <= 4 and K % 32 == 0 (N not a multiple of the 8 rows per block); the rest the plain kernel
      for (const auto& [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{1, 37, 1024},
                                    {2, 9, bs},
                                    {3, 13, 96},
                                    {4, 8, 256},
                                    {5, 6, 128},
                                    {2, 7, 100},
                                    {1, 5, 33}})
        for (bool nested : {false, true}) {
          const test::Gemm4bitProblem p(m, n, k, bs, qt, nested, (seed & 1) != 0, seed);
          ++seed;
          check_gemm<float>(p, DType::kF32);
          check_gemm<fp16_t>(p, DType::kF16);
          check_gemm<bf16_t>(p, DType::kBF16);
        }
}

TEST_CASE("GPU gemv_4bit takes its code table from the argument", "[gpu][gemm_4bit]") {
  test::Gemm4bitProblem p(2, 11, 64, 32, QuantType::kNF4, false, true, 99);
  for (int i = 0; i < 16; ++i) p.code.push_back(static_cast<float>(i - 7) / 8.0f);  // not a built-in table
  check_gemm<float>(p, DType::kF32);
  check_gemm<bf16_t>(p, DType::kBF16);
}
