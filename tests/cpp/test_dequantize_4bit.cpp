#include <catch2/catch.hpp>

#include "cpu/kernels/dequantize_4bit.h"
#include "test_util.h"

using namespace bnb;
using namespace bnb::cpu;

namespace {

std::vector<uint8_t> random_bytes(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

template <typename T>
void check_paths(int64_t n, int64_t bs, QuantType qt, DType dtype) {
  const auto packed = random_bytes(packed_4bit_bytes(n), static_cast<uint32_t>(n + bs));
  auto absmax = test::test_values(num_blocks(n, bs), 7, false);
  absmax[0] = NAN;
  if (absmax.size() > 2) absmax[1] = 1e-39f, absmax[2] = 0.0f;
  std::vector<T> ref;
  for (const auto& path :
       test::paths<Dequantize4bitFn>(dequantize_4bit_scalar, dequantize_4bit_avx2, dequantize_4bit_avx512)) {
    std::vector<T> out(n);
    const Dequantize4bitArgs a{packed.data(), absmax.data(), n, bs, qt, out.data(), dtype};
    const int64_t blocks = num_blocks(n, bs);
    path.fn(a, 0, blocks / 3);
    path.fn(a, blocks / 3, blocks);
    if (ref.empty()) {
      // the scalar path against the definition
      const float* code = code_table(qt).data();
      for (int64_t i = 0; i < n; ++i) {
        const uint8_t b = packed[i / 2];
        const T e = from_f32<T>(code[(i & 1) ? low_nibble(b) : high_nibble(b)] * absmax[i / bs]);
        REQUIRE(std::memcmp(&e, &out[i], sizeof(T)) == 0);
      }
      ref = out;
      continue;
    }
    INFO("path " << path.name << " n=" << n << " bs=" << bs);
    REQUIRE(test::same_bytes(out, ref));
  }
}

}  // namespace

TEST_CASE("dequantize_4bit: every SIMD path equals the scalar path bit for bit", "[dequantize_4bit]") {
  for (QuantType qt : {QuantType::kNF4, QuantType::kFP4})
    for (int64_t bs : {32, 64, 128, 256, 512, 1024, 2048, 4096})
      for (int64_t n : {int64_t{1}, int64_t{3}, int64_t{31}, bs, bs + 7, 5 * bs - 3, int64_t{10007}}) {
        check_paths<float>(n, bs, qt, DType::kF32);
        check_paths<fp16_t>(n, bs, qt, DType::kF16);
        check_paths<bf16_t>(n, bs, qt, DType::kBF16);
      }
}
