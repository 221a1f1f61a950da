#include <catch2/catch.hpp>

#include "cpu/kernels/quantize_4bit.h"
#include "test_util.h"

using namespace bnb;
using namespace bnb::cpu;

namespace {

template <typename T>
void check_all_paths_identical(const std::vector<float>& values, int64_t blocksize, QuantType qt, DType dtype) {
  const std::vector<T> input = test::convert<T>(values);
  const int64_t n = static_cast<int64_t>(input.size());
  const int64_t blocks = num_blocks(n, blocksize);
  std::vector<uint8_t> ref_packed;
  std::vector<float> ref_absmax;
  for (const auto& path : test::paths<Quantize4bitFn>(quantize_4bit_scalar, quantize_4bit_avx2, quantize_4bit_avx512)) {
    std::vector<uint8_t> packed(packed_4bit_bytes(n), 0xAA);
    std::vector<float> absmax(blocks, -1.0f);
    const Quantize4bitArgs a{input.data(), dtype, n, blocksize, qt, packed.data(), absmax.data()};
    // in two ranges, as the thread pool would split it
    path.fn(a, 0, blocks / 2);
    path.fn(a, blocks / 2, blocks);
    if (ref_packed.empty()) {
      ref_packed = packed;
      ref_absmax = absmax;
      continue;
    }
    INFO("path " << path.name << " n=" << n << " blocksize=" << blocksize);
    REQUIRE(packed == ref_packed);
    REQUIRE(test::same_bytes(absmax, ref_absmax));
  }
}

}  // namespace

TEST_CASE("quantize_4bit: every SIMD path equals the scalar path bit for bit", "[quantize_4bit]") {
  for (QuantType qt : {QuantType::kNF4, QuantType::kFP4}) {
    for (int64_t bs : {32, 64, 128, 256, 512, 1024, 2048, 4096}) {
      for (int64_t n :
           {int64_t{1}, int64_t{2}, int64_t{15}, int64_t{17}, bs - 1, bs, bs + 1, 3 * bs + 33, int64_t{9001}}) {
        const auto v = test::test_values(n, static_cast<uint32_t>(n * 31 + bs));
        check_all_paths_identical<float>(v, bs, qt, DType::kF32);
        check_all_paths_identical<fp16_t>(v, bs, qt, DType::kF16);
        check_all_paths_identical<bf16_t>(v, bs, qt, DType::kBF16);
      }
    }
  }
}

TEST_CASE("quantize_4bit: zero, NaN and Inf blocks", "[quantize_4bit]") {
  std::vector<float> v(192, 0.0f);
  v[70] = NAN;        // block 1
  v[130] = INFINITY;  // block 2
  v[131] = 0.5f;
  std::vector<uint8_t> packed(96);
  std::vector<float> absmax(3);
  const Quantize4bitArgs a{v.data(), DType::kF32, 192, 64, QuantType::kNF4, packed.data(), absmax.data()};
  quantize_4bit_scalar(a, 0, 3);
  CHECK(absmax[0] == 0.0f);  // a full all-zero block keeps its raw maximum
  CHECK(packed[0] == 0x77);  // ... and encodes as the zero code
  CHECK(std::isnan(absmax[1]));
  CHECK(packed[40] == 0xFF);  // NaN scales everything to NaN: the top code
  CHECK(std::isinf(absmax[2]));
  CHECK(packed[65] == 0xF7);  // inf * (1/inf) = NaN -> 15; 0.5 * (1/inf) = 0 -> zero code
  CHECK(packed[64] == 0x77);
}

TEST_CASE("quantize_4bit: partial last block clamps its stored absmax, odd tail pads with the zero code",
          "[quantize_4bit]") {
  std::vector<float> v(7, 0.0f);
  v[5] = NAN;
  std::vector<uint8_t> packed(4);
  float absmax = 0;
  for (auto path : test::paths<Quantize4bitFn>(quantize_4bit_scalar, quantize_4bit_avx2, quantize_4bit_avx512)) {
    const Quantize4bitArgs nf4{v.data(), DType::kF32, 7, 64, QuantType::kNF4, packed.data(), &absmax};
    path.fn(nf4, 0, 1);
    CHECK(packed[3] == 0xF7);  // element 6 -> NaN -> 15; pad nibble -> 7
    const Quantize4bitArgs fp4{v.data(), DType::kF32, 7, 64, QuantType::kFP4, packed.data(), &absmax};
    path.fn(fp4, 0, 1);
    CHECK(packed[3] == 0x30);  // FP4: NaN -> code 3 (1.0); pad -> code 0
    std::vector<float> zeros(5, 0.0f);
    const Quantize4bitArgs z{zeros.data(), DType::kF32, 5, 64, QuantType::kNF4, packed.data(), &absmax};
    path.fn(z, 0, 1);
    CHECK(absmax == 1e-38f);
  }
}

TEST_CASE("quantize_4bit: a partial last block divides by its absmax, a full block multiplies by 1/absmax",
          "[quantize_4bit]") {
  const float* mids = midpoint_table(QuantType::kFP4).data();
  const uint8_t* to_code = sorted_to_code_table(QuantType::kFP4).data();
  // a value v and absmax a for which v * (1/a) and v / a fall on different sides of a midpoint
  float v = 0.0f, a = 0.0f;
  for (float cand = 1.1f; v == 0.0f && cand < 8.0f; cand += 0.013f)
    for (int m = 0; m < 15 && v == 0.0f; ++m) {
      float t = mids[m] * cand;
      for (int step = 0; step < 8; ++step) t = std::nextafter(t, -10.0f);
      for (int step = 0; step < 16 && v == 0.0f; ++step, t = std::nextafter(t, 10.0f))
        if (nearest_4bit_sorted_position(t * (1.0f / cand), mids) != nearest_4bit_sorted_position(t / cand, mids))
          v = t, a = cand;
    }
  REQUIRE(v != 0.0f);
  const uint8_t by_division = to_code[nearest_4bit_sorted_position(v / a, mids)];
  const uint8_t by_reciprocal = to_code[nearest_4bit_sorted_position(v * (1.0f / a), mids)];
  // block 0 (full, 64 values) holds [v, a, 0...]; block 1 (partial, 2 values) holds [v, a]
  std::vector<float> x(66, 0.0f);
  x[0] = x[64] = v;
  x[1] = x[65] = a;
  std::vector<uint8_t> packed(33);
  std::vector<float> absmax(2);
  for (auto path : test::paths<Quantize4bitFn>(quantize_4bit_scalar, quantize_4bit_avx2, quantize_4bit_avx512)) {
    INFO("path " << path.name);
    const Quantize4bitArgs args{x.data(), DType::kF32, 66, 64, QuantType::kFP4, packed.data(), absmax.data()};
    path.fn(args, 0, 2);
    CHECK(packed[0] >> 4 == by_reciprocal);
    CHECK(packed[32] >> 4 == by_division);
  }
}
