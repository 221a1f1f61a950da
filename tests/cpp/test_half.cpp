#include <catch2/catch.hpp>

#include "common/half.h"
#include "test_util.h"

using namespace bnb;

#if defined(__FLT16_MAX__)
#define BNB_HAVE_FLOAT16 1
#endif

TEST_CASE("fp16 -> fp32 is exact for all 65536 values", "[half]") {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = to_f32(fp16_t{static_cast<uint16_t>(h)});
    const uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
    if (exp == 0x1F && mant) {
      REQUIRE(std::isnan(f));
      continue;
    }
    // back again: every fp16 value round-trips
    REQUIRE(fp16_from_f32(f).bits == h);
#ifdef BNB_HAVE_FLOAT16
    _Float16 ref;
    uint16_t bits = static_cast<uint16_t>(h);
    std::memcpy(&ref, &bits, 2);
    REQUIRE(f == static_cast<float>(ref));
#endif
  }
}

TEST_CASE("fp32 -> fp16 rounds to nearest even, subnormals and overflow included", "[half]") {
  std::mt19937 rng(3);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 2000000; ++i) {
    uint32_t u = bits(rng);
    // concentrate on the fp16 range and its subnormals
    if (i % 2) u = (u & 0x807FFFFFu) | ((100u + (u >> 24) % 45u) << 23);
    const float f = f32_from_bits(u);
    const uint16_t got = fp16_from_f32(f).bits;
    if (std::isnan(f)) {
      REQUIRE(((got >> 10) & 0x1F) == 0x1F);
      REQUIRE((got & 0x200) != 0);
      continue;
    }
#ifdef BNB_HAVE_FLOAT16
    const _Float16 ref = static_cast<_Float16>(f);
    uint16_t expected;
    std::memcpy(&expected, &ref, 2);
    REQUIRE(got == expected);
#else
    // without a compiler reference: the result is one of the two neighbours and round-trips
    REQUIRE(std::fabs(to_f32(fp16_t{got}) - f) <= std::fabs(f) * 0.001f + 6e-8f);
#endif
  }
  CHECK(fp16_from_f32(65504.0f).bits == 0x7BFF);
  CHECK(fp16_from_f32(65520.0f).bits == 0x7C00);  // rounds to inf
  CHECK(fp16_from_f32(-0.0f).bits == 0x8000);
  CHECK(fp16_from_f32(5.960464477539063e-08f).bits == 0x0001);   // smallest subnormal
  CHECK(fp16_from_f32(2.9802322387695312e-08f).bits == 0x0000);  // exactly half: ties to even (0)
}

TEST_CASE("fp32 -> bf16 rounds to nearest even and keeps subnormals", "[half]") {
  CHECK(bf16_from_f32(1.0f).bits == 0x3F80);
  CHECK(bf16_from_f32(f32_from_bits(0x3F808000u)).bits == 0x3F80);  // tie -> even
  CHECK(bf16_from_f32(f32_from_bits(0x3F818000u)).bits == 0x3F82);  // tie -> even (up)
  CHECK(bf16_from_f32(f32_from_bits(0x3F808001u)).bits == 0x3F81);
  CHECK(bf16_from_f32(1e-39f).bits == (f32_bits(1e-39f) + 0x7FFF + ((f32_bits(1e-39f) >> 16) & 1)) >> 16);
  CHECK(bf16_from_f32(INFINITY).bits == 0x7F80);
  CHECK(bf16_from_f32(f32_from_bits(0x7F7FFFFFu)).bits == 0x7F80);  // overflow -> inf
  CHECK(bf16_from_f32(std::nanf("")).bits == 0x7FC0);
  CHECK(bf16_from_f32(f32_from_bits(0xFF800001u)).bits == 0xFFC0);  // signalling NaN is quieted, stays NaN
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = to_f32(bf16_t{static_cast<uint16_t>(h)});
    if (!std::isnan(f)) REQUIRE(bf16_from_f32(f).bits == h);
  }
}
