#include <catch2/catch.hpp>

#include "common/format.h"
#include "cpu/kernels/blockwise_8bit.h"
#include "test_util.h"

using namespace bnb;
using namespace bnb::cpu;

namespace {

const std::vector<uint8_t>& signed_lut() {
  static const std::vector<uint8_t> lut = [] {
    std::vector<uint8_t> l(kGridLutBytes, 0);
    const auto code = dynamic_map(true);
    build_grid_lut(code.data(), l.data());
    return l;
  }();
  return lut;
}

template <typename T>
void check_quantize_paths(const std::vector<float>& values, int64_t bs, DType dtype) {
  const auto input = test::convert<T>(values);
  const int64_t n = static_cast<int64_t>(input.size()), blocks = num_blocks(n, bs);
  std::vector<uint8_t> ref_q;
  std::vector<float> ref_absmax;
  for (const auto& path : test::paths<QuantizeBlockwiseFn>(quantize_blockwise_scalar, quantize_blockwise_avx2,
                                                           quantize_blockwise_avx512)) {
    std::vector<uint8_t> q(n, 0xAA);
    std::vector<float> absmax(blocks, -1.0f);
    const QuantizeBlockwiseArgs a{input.data(), dtype, n, bs, signed_lut().data(), nullptr, q.data(), absmax.data()};
    path.fn(a, 0, blocks / 2);
    path.fn(a, blocks / 2, blocks);
    if (ref_q.empty()) {
      ref_q = q;
      ref_absmax = absmax;
      continue;
    }
    INFO("path " << path.name << " n=" << n << " bs=" << bs);
    REQUIRE(q == ref_q);
    REQUIRE(test::same_bytes(absmax, ref_absmax));
  }
}

}  // namespace

TEST_CASE("quantize_blockwise: every SIMD path equals the scalar path bit for bit", "[blockwise]") {
  for (int64_t bs : {1, 3, 16, 64, 100, 256, 1000, 4096})
    for (int64_t n : {int64_t{1}, int64_t{15}, int64_t{17}, bs, bs + 1, int64_t{12345}}) {
      const auto v = test::test_values(n, static_cast<uint32_t>(n ^ bs));
      check_quantize_paths<float>(v, bs, DType::kF32);
      check_quantize_paths<fp16_t>(v, bs, DType::kF16);
      check_quantize_paths<bf16_t>(v, bs, DType::kBF16);
    }
}

TEST_CASE("quantize_blockwise: NaN is skipped by absmax, zero blocks give index 0", "[blockwise]") {
  std::vector<float> v = {0.5f, NAN, -0.25f, 1.0f, 0, 0, 0, 0, 1e-40f, -1e-40f, 1e-45f, 0};
  std::vector<uint8_t> q(12);
  std::vector<float> absmax(3);
  const QuantizeBlockwiseArgs a{v.data(), DType::kF32, 12, 4, signed_lut().data(), nullptr, q.data(), absmax.data()};
  quantize_blockwise_scalar(a, 0, 3);
  CHECK(absmax[0] == 1.0f);
  CHECK(q[1] == 0);  // NaN -> grid 0 -> index 0
  CHECK(q[3] == 255);
  CHECK(absmax[1] == 0.0f);
  CHECK((q[4] == 0 && q[5] == 0 && q[6] == 0 && q[7] == 0));
  // 1/absmax overflows to inf: +-inf scaled values clamp to the ends, 0 * inf is NaN -> 0
  CHECK(q[8] == 255);
  CHECK(q[9] == 0);
  CHECK(q[10] == 255);
  CHECK(q[11] == 0);
}

TEST_CASE("dequantize_blockwise: every SIMD path equals the definition", "[blockwise]") {
  const auto code = dynamic_map(true);
  for (int64_t bs : {1, 7, 64, 256, 4096})
    for (int64_t n : {int64_t{1}, int64_t{17}, int64_t{5000}}) {
      std::mt19937 rng(static_cast<uint32_t>(n + bs));
      std::vector<uint8_t> q(n);
      for (auto& b : q) b = static_cast<uint8_t>(rng());
      auto absmax = test::test_values(num_blocks(n, bs), 11, false);
      absmax[0] = NAN;
      for (DType dt : {DType::kF32, DType::kF16, DType::kBF16}) {
        std::vector<uint8_t> ref;
        for (const auto& path : test::paths<DequantizeBlockwiseFn>(
                 dequantize_blockwise_scalar, dequantize_blockwise_avx2, dequantize_blockwise_avx512)) {
          const size_t es = dt == DType::kF32 ? 4 : 2;
          std::vector<uint8_t> out(n * es);
          const DequantizeBlockwiseArgs a{q.data(), code.data(), absmax.data(), n, bs, out.data(), dt};
          path.fn(a, 0, num_blocks(n, bs));
          if (ref.empty()) {
            for (int64_t i = 0; i < n; ++i) {
              const float v = code[q[i]] * absmax[i / bs];
              if (dt == DType::kF32) REQUIRE(std::memcmp(&out[4 * i], &v, 4) == 0);
              if (dt == DType::kF16) {
                const auto h = fp16_from_f32(v);
                REQUIRE(std::memcmp(&out[2 * i], &h, 2) == 0);
              }
              if (dt == DType::kBF16) {
                const auto h = bf16_from_f32(v);
                REQUIRE(std::memcmp(&out[2 * i], &h, 2) == 0);
              }
            }
            ref = out;
            continue;
          }
          INFO("path " << path.name);
          REQUIRE(out == ref);
        }
      }
    }
}
