#include <catch2/catch.hpp>

#include "common/format.h"

using namespace bnb;

TEST_CASE("4-bit tables and midpoints are SPEC's values", "[format]") {
  const float nf4_mids[15] = {-.8480964f, -.6106329f, -.4599953f, -.3396794f, -.2346074f,
                              -.1379117f, -.0455250f, .0397901f,  .1202553f,  .2035213f,
                              .2920138f,  .3893125f,  .5016634f,  .6427869f,  .8614784f};
  for (int i = 0; i < 15; ++i) CHECK(kNF4Midpoints[i] == Approx(nf4_mids[i]).margin(1e-6));
  // FP4 on |x|: .00260417, .0859375, .20833333, .29166667, .4166667, .583333, .8333333
  const float fp4_pos[7] = {.00260417f, .0859375f, .20833333f, .29166667f, .4166667f, .583333f, .8333333f};
  for (int i = 0; i < 7; ++i) {
    CHECK(kFP4Midpoints[8 + i] == Approx(fp4_pos[i]).margin(1e-6));
    CHECK(kFP4Midpoints[6 - i] == -kFP4Midpoints[8 + i]);
  }
  CHECK(kFP4Code[3] == 1.0f);
  CHECK(kFP4Code[11] == -1.0f);
  CHECK(kNF4Code[7] == 0.0f);
}

TEST_CASE("sorted positions map back to codes in value order", "[format]") {
  for (QuantType qt : {QuantType::kNF4, QuantType::kFP4}) {
    const auto& code = code_table(qt);
    const auto& order = sorted_to_code_table(qt);
    for (int i = 0; i < 15; ++i) CHECK(code[order[i]] <= code[order[i + 1]]);
    // every code reachable exactly once
    int seen[16] = {};
    for (int i = 0; i < 16; ++i) ++seen[order[i]];
    for (int i = 0; i < 16; ++i) CHECK(seen[i] == 1);
  }
}

TEST_CASE("nearest 4-bit position: ties go down, NaN goes to the top", "[format]") {
  const float* m = kNF4Midpoints.data();
  CHECK(nearest_4bit_sorted_position(-1.0f, m) == 0);
  CHECK(nearest_4bit_sorted_position(1.0f, m) == 15);
  CHECK(nearest_4bit_sorted_position(0.0f, m) == 7);
  for (int i = 0; i < 15; ++i) CHECK(nearest_4bit_sorted_position(m[i], m) == i);
  CHECK(nearest_4bit_sorted_position(std::nanf(""), m) == 15);
}

TEST_CASE("packing puts element 2i in the high nibble", "[format]") {
  CHECK(pack_nibbles(0xA, 0x3) == 0xA3);
  CHECK(high_nibble(0xA3) == 0xA);
  CHECK(low_nibble(0xA3) == 0x3);
  CHECK(packed_4bit_bytes(7) == 4);
  CHECK(num_blocks(65, 64) == 2);
}

TEST_CASE("blocksize rules", "[format]") {
  for (int bs : {32, 64, 128, 256, 512, 1024, 2048, 4096}) CHECK(is_valid_4bit_blocksize(bs));
  for (int bs : {0, 16, 48, 96, 8192, -64}) CHECK_FALSE(is_valid_4bit_blocksize(bs));
  CHECK(is_valid_8bit_blocksize_gpu(64));
  CHECK_FALSE(is_valid_8bit_blocksize_gpu(32));
}

TEST_CASE("dynamic maps: landmarks of SPEC", "[format]") {
  const auto s = dynamic_map(true);
  REQUIRE(s.size() == 256);
  CHECK(s[0] == Approx(-0.99296875f));
  CHECK(s[126] == Approx(-5.5e-7f));
  CHECK(s[127] == 0.0f);
  CHECK(s[128] == Approx(5.5e-7f));
  CHECK(s[254] == Approx(0.99296875f));
  CHECK(s[255] == 1.0f);
  for (size_t i = 1; i < s.size(); ++i) CHECK(s[i - 1] <= s[i]);
  const auto u = dynamic_map(false);
  REQUIRE(u.size() == 256);
  CHECK(u[0] == 0.0f);
  CHECK(u[1] == Approx(3.25e-7f));
  CHECK(u[254] == Approx(0.99648438f));
  CHECK(u[255] == 1.0f);
  CHECK(dynamic_map(false, 4, 8).empty());  // does not describe 256 values
  CHECK(dynamic_map(true, 4, 6).size() == 256);
  // a signed map with max_exponent_bits >= total_bits is the one with total_bits - 1 (fewer values: padded)
  CHECK(dynamic_map(true, 8, 8) == dynamic_map(true, 7, 8));
  CHECK(dynamic_map(true, 6, 3) == dynamic_map(true, 2, 3));
  const auto one_bit = dynamic_map(true, 1, 1);  // 0 and 1, padded with zeros
  REQUIRE(one_bit.size() == 256);
  CHECK(one_bit[255] == 1.0f);
  CHECK(std::count(one_bit.begin(), one_bit.end(), 0.0f) == 255);
  CHECK(dynamic_map(false, 0, 1) == one_bit);
  CHECK(dynamic_map(false, 2, 2).empty());  // the unsigned map needs max_exponent_bits == total_bits - 1
  CHECK(dynamic_map(true, 0, 4).empty());   // no exponent bits describes no map
}

TEST_CASE("8-bit grid index: rounding, clamping and NaN", "[format]") {
  CHECK(grid_index(-1.0f) == 0);
  CHECK(grid_index(1.0f) == 65535);
  CHECK(grid_index(0.0f) == 32768);  // (0 + 1) * 32767.5 + 0.5 = 32768
  CHECK(grid_index(-3e-8f) == 32767);
  CHECK(grid_index(std::nanf("")) == 0);
  CHECK(grid_index(INFINITY) == 65535);
  CHECK(grid_index(-INFINITY) == 0);
  CHECK(grid_index(2.0f) == 65535);
  for (uint32_t k : {0u, 1u, 1000u, 32767u, 32768u, 65534u, 65535u}) CHECK(grid_index(grid_value(k)) == k);
}

TEST_CASE("grid LUT: nearest code to each grid point, ties to the lower index", "[format]") {
  std::vector<float> code = dynamic_map(true);
  std::vector<uint8_t> lut(kGridPoints);
  build_grid_lut(code.data(), lut.data());
  for (uint32_t k = 0; k < static_cast<uint32_t>(kGridPoints); k += 7) {
    const float g = grid_value(k);
    int best = 0;
    for (int i = 1; i < 256; ++i)
      if (std::fabs(g - code[i]) < std::fabs(g - code[best])) best = i;
    REQUIRE(lut[k] == best);
  }
  // unsorted codes take the exhaustive search and agree with it
  std::vector<float> shuffled(code.rbegin(), code.rend());
  std::vector<uint8_t> lut2(kGridPoints);
  build_grid_lut(shuffled.data(), lut2.data());
  for (uint32_t k = 0; k < static_cast<uint32_t>(kGridPoints); k += 101) CHECK(shuffled[lut2[k]] == code[lut[k]]);
}

TEST_CASE("grid LUT: a sorted code with repeated values is searched as a sorted table", "[format]") {
  // [-1, 0 x 254, 1]: below the run of zeros the first zero, above it the last (the reference's bytes)
  std::vector<float> code(256, 0.0f);
  code[0] = -1.0f;
  code[255] = 1.0f;
  std::vector<uint8_t> lut(kGridPoints);
  build_grid_lut(code.data(), lut.data());
  CHECK(lut[grid_index(-1.0f)] == 0);
  CHECK(lut[grid_index(-0.6f)] == 0);
  CHECK(lut[grid_index(-0.4f)] == 1);
  CHECK(lut[grid_index(-1e-4f)] == 1);
  CHECK(lut[grid_index(1e-4f)] == 254);
  CHECK(lut[grid_index(0.4f)] == 254);
  CHECK(lut[grid_index(0.6f)] == 255);
  // -0.0 before +0.0 still counts as sorted: the grid points next to zero pick the nearer nonzero codes
  std::vector<float> signed_zeros(256);
  for (int i = 0; i < 128; ++i) signed_zeros[i] = -1.0f + i / 128.0f;
  for (int i = 128; i < 256; ++i) signed_zeros[i] = (i - 128) / 127.0f;
  signed_zeros[127] = -0.0f;
  build_grid_lut(signed_zeros.data(), lut.data());
  CHECK(lut[grid_index(0.4f / 127.0f)] == 128);
  CHECK(lut[grid_index(0.6f / 127.0f)] == 129);
}
