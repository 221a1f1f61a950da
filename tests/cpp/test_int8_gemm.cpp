#include <catch2/catch.hpp>

#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "common/half.h"
#include "cpu/kernels/int8_gemm.h"
#include "cpu/kernels/int8_quant.h"
#include "test_util.h"

using namespace bnb;
using namespace bnb::cpu;

namespace {

std::vector<int8_t> random_int8(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(d(rng));
  return v;
}

std::vector<Int8GemmFn> gemm_paths() {
  std::vector<Int8GemmFn> p{int8_gemm_scalar};
  const auto& f = cpu_features();
  if (f.avx2) p.push_back(int8_gemm_avx2);
  if (f.avx_vnni) p.push_back(int8_gemm_avx_vnni);
  if (f.avx512 && f.avx512_vnni) p.push_back(int8_gemm_avx512_vnni);
  if (f.avx512 && int8_amx_available()) p.push_back(int8_gemm_amx);
  return p;
}

}  // namespace

TEST_CASE("int8 GEMM: every path equals the exact int64 product", "[int8]") {
  // {130, 40, 4100}: more rows than one L2 block of packed A holds (int8_gemm_block_rows: ~120 at this K)
  const int64_t shapes[][3] = {{1, 1, 1},      {1, 33, 7},    {8, 32, 4},     {9, 65, 130}, {23, 100, 257},
                               {64, 64, 1024}, {70, 97, 200}, {4, 50, 4100},  {3, 17, 64},  {16, 64, 128},
                               {40, 96, 256},  {33, 32, 64},  {130, 40, 4100}};
  for (const auto& s : shapes) {
    const int64_t M = s[0], N = s[1], K = s[2];
    const auto A = random_int8(M * K, 1), B = random_int8(N * K, 2);
    std::vector<int32_t> want(M * N);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        int64_t acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += int64_t{A[m * K + k]} * B[n * K + k];
        want[m * N + n] = static_cast<int32_t>(acc);
      }
    for (const Int8GemmFn fn : gemm_paths()) {
      std::vector<int32_t> out(M * N, 0x5A5A5A5A);
      Int8GemmArgs a{A.data(), B.data(), M, N, K, out.data(), nullptr, DType::kF32, nullptr, nullptr, nullptr};
      // two column ranges and two row ranges, as the binding splits work
      fn(a, 0, M / 2, 0, N);
      fn(a, M / 2, M, 0, N / 2);
      fn(a, M / 2, M, N / 2, N);
      INFO("M=" << M << " N=" << N << " K=" << K);
      REQUIRE(out == want);
    }
  }
}

TEST_CASE("int8 GEMM: the fused scaled epilogue is bit-identical on every path", "[int8]") {
  const int64_t M = 19, N = 71, K = 45;
  const auto A = random_int8(M * K, 3), B = random_int8(N * K, 4);
  std::vector<float> rs(M), cs(N), bias(N);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0.01f, 3.0f);
  for (auto& v : rs) v = u(rng);
  for (auto& v : cs) v = u(rng);
  for (auto& v : bias) v = u(rng) - 1.5f;
  for (const DType dt : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (const bool with_bias : {false, true}) {
      std::vector<uint16_t> ref16;
      std::vector<float> ref32;
      for (const Int8GemmFn fn : gemm_paths()) {
        std::vector<float> out32(M * N, -1.0f);
        std::vector<uint16_t> out16(M * N, 0xFFFF);
        void* out = dt == DType::kF32 ? static_cast<void*>(out32.data()) : static_cast<void*>(out16.data());
        Int8GemmArgs a{
            A.data(), B.data(), M, N, K, nullptr, out, dt, rs.data(), cs.data(), with_bias ? bias.data() : nullptr};
        fn(a, 0, M, 0, N);
        if (fn == int8_gemm_scalar) {
          ref32 = out32, ref16 = out16;
          // spot-check the formula on the scalar path
          int32_t acc = 0;
          for (int64_t k = 0; k < K; ++k) acc += int32_t{A[k]} * B[k];
          float v = static_cast<float>(acc) * (rs[0] * cs[0]) * kInt8MmScale;
          if (with_bias) v = v + bias[0];
          if (dt == DType::kF32) REQUIRE(out32[0] == v);
          continue;
        }
        REQUIRE(out32 == ref32);
        REQUIRE(out16 == ref16);
      }
    }
  }
}

TEST_CASE("int8 row quantization: outliers, zero rows, scale", "[int8]") {
  const int64_t rows = 3, cols = 5;
  std::vector<float> x = {1.0f, -2.0f, 0.5f,  8.0f, 0.25f,  //
                          0.0f, 0.0f,  0.0f,  0.0f, 0.0f,   //
                          4.0f, 1.0f,  -1.0f, 0.1f, 2.0f};
  std::vector<int8_t> q(rows * cols, 99);
  std::vector<float> stats(rows, -1.0f);
  std::vector<uint8_t> flags(cols, 0);
  Int8QuantArgs a{x.data(), DType::kF32, rows, cols, 6.0f, nullptr, q.data(), stats.data(), nullptr, nullptr};
  int8_find_outlier_cols(a, flags.data(), 0, cols);
  REQUIRE(flags == std::vector<uint8_t>{0, 0, 0, 1, 0});
  a.outlier_cols = flags.data();
  int8_quant_rows(a, 0, rows);
  REQUIRE(stats == std::vector<float>{2.0f, 0.0f, 4.0f});
  REQUIRE(q == std::vector<int8_t>{64, -127, 32, 0, 16, 0, 0, 0, 0, 0, 127, 32, -32, 0, 64});
}

TEST_CASE("int8 row quantization: the AVX-512 path equals the scalar path", "[int8]") {
  if (!cpu_features().avx512) return;
  for (const int64_t cols : {1, 15, 16, 17, 100, 513}) {
    const int64_t rows = 7;
    auto values = test::test_values(rows * cols, static_cast<uint32_t>(cols), false);
    for (int64_t i = 0; i < rows * cols; i += 37) values[i] *= 5.0f;  // outliers for threshold 6
    if (cols > 2) values[cols + 1] = std::numeric_limits<float>::quiet_NaN();
    for (int64_t c = 0; c < cols; ++c) values[2 * cols + c] = 0.0f;  // an all-zero row
    for (const float threshold : {0.0f, 6.0f}) {
      for (const DType dt : {DType::kF32, DType::kF16, DType::kBF16}) {
        std::vector<float> f32 = values;
        std::vector<fp16_t> f16 = test::convert<fp16_t>(values);
        std::vector<bf16_t> b16 = test::convert<bf16_t>(values);
        const void* in = dt == DType::kF32   ? static_cast<const void*>(f32.data())
                         : dt == DType::kF16 ? static_cast<const void*>(f16.data())
                                             : static_cast<const void*>(b16.data());
        std::vector<uint8_t> flags(cols, 0);
        Int8QuantArgs a{in, dt, rows, cols, threshold, nullptr, nullptr, nullptr, nullptr, nullptr};
        if (threshold > 0) {
          int8_find_outlier_cols(a, flags.data(), 0, cols);
          a.outlier_cols = flags.data();
        }
        std::vector<int8_t> q1(rows * cols), q2(rows * cols);
        std::vector<float> s1(rows), s2(rows);
        a.row_q = q1.data(), a.row_stats = s1.data();
        int8_quant_rows_scalar(a, 0, rows);
        a.row_q = q2.data(), a.row_stats = s2.data();
        int8_quant_rows_avx512(a, 0, rows);
        INFO("cols=" << cols << " threshold=" << threshold);
        REQUIRE(q1 == q2);
        REQUIRE(std::memcmp(s1.data(), s2.data(), s1.size() * sizeof(float)) == 0);
      }
    }
  }
}
