// GPU LLM.int8() kernels (HIP CPU runtime) against the CPU kernels, bit for
// bit: outlier columns, row and column quantization (docs/formats.md), the two
// rescales, and the int8 GEMM with its int32 and fused scaled epilogues.
#include <algorithm>
#include <tuple>

#include "cpu/kernels/int8_gemm.h"
#include "cpu/kernels/int8_quant.h"
#include "cuda/kernels/int8_launchers.h"
#include "gpu_test_util.h"

using namespace bnb;

namespace {

// Normals with a few large outlier columns, NaN and +-Inf.
std::vector<float> int8_input(int64_t rows, int64_t cols, uint32_t seed) {
  std::vector<float> v = test::test_values(rows * cols, seed, false);
  std::mt19937 rng(seed);
  for (int64_t c = 0; c < cols; c += 7)
    v[(rng() % rows) * cols + c] = (c % 2 ? -1.0f : 1.0f) * (6.0f + static_cast<float>(c % 5));
  if (rows * cols > 40) {
    v[11] = NAN;
    v[23] = INFINITY;
    v[37] = -INFINITY;
  }
  return v;
}

template <typename T>
void check_quant(int64_t rows, int64_t cols, float threshold, bool with_cols, DType dtype) {
  const std::vector<T> x = test::convert<T>(int8_input(rows, cols, static_cast<uint32_t>(rows * 131 + cols)));
  const int64_t n = rows * cols;
  INFO("rows=" << rows << " cols=" << cols << " threshold=" << threshold << " dtype=" << static_cast<int>(dtype));
  Int8QuantArgs base{x.data(), dtype, rows, cols, threshold, nullptr, nullptr, nullptr, nullptr, nullptr};

  std::vector<uint8_t> cpu_flags(cols, 9), gpu_flags(cols, 7);
  if (threshold > 0.0f) cpu::int8_find_outlier_cols(base, cpu_flags.data(), 0, cols);
  const uint8_t* flags = threshold > 0.0f ? cpu_flags.data() : nullptr;

  std::vector<int8_t> cpu_rq(n, 1), gpu_rq(n, 2), cpu_cq(n, 3), gpu_cq(n, with_cols ? 4 : 3);
  std::vector<float> cpu_rs(rows, -1), gpu_rs(rows, -2), cpu_cs(cols, -3), gpu_cs(cols, with_cols ? -4 : -3);
  Int8QuantArgs c = base, g = base;
  c.outlier_cols = flags;
  c.row_q = cpu_rq.data(), c.row_stats = cpu_rs.data();
  g.row_q = gpu_rq.data(), g.row_stats = gpu_rs.data();
  if (with_cols) {
    c.col_q = cpu_cq.data(), c.col_stats = cpu_cs.data();
    g.col_q = gpu_cq.data(), g.col_stats = gpu_cs.data();
  }
  cpu::int8_quant_rows_scalar(c, 0, rows);
  if (with_cols) cpu::int8_quant_cols(c, 0, cols);
  test::run_gpu(
      [&](void* stream) { return gpu::launch_int8_quant(g, threshold > 0.0f ? gpu_flags.data() : nullptr, stream); });
  if (threshold > 0.0f) REQUIRE(gpu_flags == cpu_flags);
  REQUIRE(gpu_rq == cpu_rq);
  REQUIRE(test::same_bytes(gpu_rs, cpu_rs));
  REQUIRE(gpu_cq == cpu_cq);
  REQUIRE(test::same_bytes(gpu_cs, cpu_cs));

  // int8_vectorwise_dequant of the row codes
  std::vector<float> cpu_deq(n), gpu_deq(n);
  cpu::int8_vectorwise_dequant({cpu_rq.data(), cpu_rs.data(), rows, cols, cpu_deq.data()}, 0, rows);
  const Int8VectorDequantArgs d{cpu_rq.data(), cpu_rs.data(), rows, cols, gpu_deq.data()};
  test::run_gpu([&](void* stream) { return gpu::launch_int8_vectorwise_dequant(d, stream); });
  REQUIRE(test::same_bytes(gpu_deq, cpu_deq));
}

template <typename T>
void check_gemm(int64_t M, int64_t N, int64_t K, bool bias, DType dtype) {
  std::mt19937 rng(static_cast<uint32_t>(M * 1000 + N * 10 + K));
  std::vector<int8_t> A(M * K), B(N * K);
  for (auto& v : A) v = static_cast<int8_t>(rng());
  for (auto& v : B) v = static_cast<int8_t>(rng());
  A[0] = B[0] = -128;  // the extremes
  const std::vector<float> rs = test::test_values(M, 3, false), cs = test::test_values(N, 4, false),
                           bv = test::test_values(N, 5, false);
  INFO("M=" << M << " N=" << N << " K=" << K << " bias=" << bias << " dtype=" << static_cast<int>(dtype));
  // int32 epilogue
  std::vector<int32_t> cpu_i32(M * N, 1), gpu_i32(M * N, 2);
  Int8GemmArgs a{A.data(), B.data(), M, N, K, cpu_i32.data(), nullptr, dtype, rs.data(), cs.data(), nullptr};
  cpu::int8_gemm_scalar(a, 0, M, 0, N);
  a.out_i32 = gpu_i32.data();
  test::run_gpu([&](void* stream) { return gpu::launch_int8_gemm(a, stream); });
  REQUIRE(gpu_i32 == cpu_i32);
  // fused rescale (+ bias) epilogue, and int8_mm_dequant of the int32 product
  std::vector<T> cpu_out(M * N), gpu_out(M * N), gpu_mm(M * N);
  a.out_i32 = nullptr;
  a.bias = bias ? bv.data() : nullptr;
  a.out = cpu_out.data();
  cpu::int8_gemm_scalar(a, 0, M, 0, N);
  a.out = gpu_out.data();
  test::run_gpu([&](void* stream) { return gpu::launch_int8_gemm(a, stream); });
  REQUIRE(test::same_bytes(gpu_out, cpu_out));
  const Int8MmDequantArgs mm{cpu_i32.data(), M, N, rs.data(), cs.data(), a.bias, gpu_mm.data(), dtype};
  test::run_gpu([&](void* stream) { return gpu::launch_int8_mm_dequant(mm, stream); });
  REQUIRE(test::same_bytes(gpu_mm, cpu_out));
}

// out += A[:, mask] @ W[:, mask].T against the same fp32 sums in ascending column order, exactly.
template <typename T>
void check_outlier_mm(int64_t M, int64_t N, int64_t K, int every, DType dtype) {
  std::mt19937 rng(static_cast<uint32_t>(M + N + K + every));
  const std::vector<T> A = test::convert<T>(test::test_values(M * K, 7, false));
  std::vector<int8_t> CB(N * K);
  for (auto& v : CB) v = static_cast<int8_t>(rng());
  const std::vector<float> SCB = test::test_values(N, 8, false);
  std::vector<uint8_t> mask(K, 0);
  for (int64_t k = 3; every > 0 && k < K; k += every) mask[k] = 1;
  const std::vector<T> out0 = test::convert<T>(test::test_values(M * N, 9, false));
  std::vector<T> out = out0, expected(M * N);
  std::vector<int32_t> work(K + 1, -7);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      float acc = 0.0f;
      for (int64_t k = 0; k < K; ++k)
        if (mask[k]) {
          const float w = to_f32(from_f32<T>(static_cast<float>(CB[n * K + k]) * SCB[n] * kInt8DequantScale));
          acc += to_f32(A[m * K + k]) * w;
        }
      expected[m * N + n] = from_f32<T>(to_f32(out0[m * N + n]) + acc);
    }
  const gpu::Int8OutlierMmArgs a{A.data(), dtype, M, N, K, CB.data(), SCB.data(), mask.data(), work.data(), out.data()};
  test::run_gpu([&](void* stream) { return gpu::launch_int8_outlier_mm(a, stream); });
  INFO("M=" << M << " N=" << N << " K=" << K << " every=" << every << " dtype=" << static_cast<int>(dtype));
  REQUIRE(work[K] == std::count(mask.begin(), mask.end(), 1));
  REQUIRE(test::same_bytes(out, expected));
}

}  // namespace

TEST_CASE("GPU int8 outlier product (a column mask, no host round trip) equals fp32 sums in column order",
          "[gpu][int8]") {
  // no outliers; a few; more than one 16-column step and 64-wide tiles; more columns than one compaction pass
  for (const auto& [m, n, k, every] :
       {std::tuple<int64_t, int64_t, int64_t, int>{4, 5, 64, 0}, {1, 5, 64, 20}, {70, 65, 300, 13}, {3, 4, 5000, 97}}) {
    check_outlier_mm<float>(m, n, k, every, DType::kF32);
    check_outlier_mm<fp16_t>(m, n, k, every, DType::kF16);
    check_outlier_mm<bf16_t>(m, n, k, every, DType::kBF16);
  }
}

TEST_CASE("GPU int8 quantization kernels equal the CPU kernels bit for bit", "[gpu][int8]") {
  for (const auto& [rows, cols] : {std::tuple<int64_t, int64_t>{1, 1},
                                   {1, 300},
                                   {3, 5},
                                   {17, 64},
                                   {64, 257},
                                   {300, 33},
                                   {5, 1000},
                                   {2, 2100},
                                   {3, 1028},     // the last two: rows of several 1024-column rescale chunks
                                   {700, 20}})    // outlier columns zeroed over many row slabs
    for (float threshold : {0.0f, 6.0f, 100.0f})  // 100: only the +-inf columns
      for (bool with_cols : {false, true}) {
        check_quant<float>(rows, cols, threshold, with_cols, DType::kF32);
        check_quant<fp16_t>(rows, cols, threshold, with_cols, DType::kF16);
        check_quant<bf16_t>(rows, cols, threshold, with_cols, DType::kBF16);
      }
}

TEST_CASE("GPU int8 GEMM equals the CPU kernel bit for bit (int32 and scaled epilogues)", "[gpu][int8]") {
  // GEMV kernel: up to 8 rows with K % 16 == 0 (2 rows of B per group, 4 chunks per lane in flight);
  // tiles: 16-byte loads when K % 16 == 0 (K = 48 ends in half a 32-byte step), byte loads otherwise
  for (const auto& [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                                {1, 70, 64},
                                {3, 5, 7},
                                {5, 33, 2064},
                                {8, 9, 128},
                                {9, 70, 96},
                                {20, 64, 48},
                                {65, 64, 33},
                                {64, 129, 100},
                                {2, 3, 4096},
                                {3, 1030, 8},  // int8_mm_dequant: rows of two 1024-column chunks, cols % 4 != 0
                                {2, 2048, 8}})
    for (bool bias : {false, true}) {
      check_gemm<float>(m, n, k, bias, DType::kF32);
      check_gemm<fp16_t>(m, n, k, bias, DType::kF16);
      check_gemm<bf16_t>(m, n, k, bias, DType::kBF16);
    }
}
