// The storage formats shared by every backend, the Python package and the C++
// tests. This header is the ONLY place where the 4-bit code tables, the packing
// order and the 8-bit lookup-grid arithmetic are written down; everything else
// includes it. It is torch-free and compiles as host code under C++17, CUDA and
// HIP.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define BNB_HOST_DEVICE __host__ __device__
#else
#define BNB_HOST_DEVICE
#endif

namespace bnb {

// ---------------------------------------------------------------------------
// 4-bit data types
// ---------------------------------------------------------------------------
enum class QuantType : int { kFP4 = 1, kNF4 = 2 };

// NF4: quantiles of N(0,1) normalised to [-1, 1], index order (0..15).
inline constexpr std::array<float, 16> kNF4Code = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

// FP4 (e2m1, bias 2, bit 3 = sign) divided by its maximum 12. Index 8 (sign bit,
// zero magnitude) holds +0, not -0: the original's table has +0 there, and its
// checkpoints carry that table as quant_map, byte for byte.
inline constexpr std::array<float, 16> kFP4Code = {
    0.0f / 12, 0.0625f / 12,  8.0f / 12,  12.0f / 12,  4.0f / 12,  6.0f / 12,  2.0f / 12,  3.0f / 12,
    0.0f / 12, -0.0625f / 12, -8.0f / 12, -12.0f / 12, -4.0f / 12, -6.0f / 12, -2.0f / 12, -3.0f / 12,
};

// Other 4-bit code tables get_4bit_type() offers (not used by the kernels,
// which take NF4 / FP4): symmetric int4 and AbnormalFloat4 (blocksize 64).
inline constexpr std::array<float, 16> kInt4Code = {
    7.0f / 7,  6.0f / 7,  5.0f / 7,  4.0f / 7,  3.0f / 7,  2.0f / 7,  1.0f / 7,  0.0f / 7,
    -0.0f / 7, -1.0f / 7, -2.0f / 7, -3.0f / 7, -4.0f / 7, -5.0f / 7, -6.0f / 7, -7.0f / 7,
};
inline constexpr std::array<float, 16> kAF4Code = {
    1.0f,
    0.7242486476898193f,
    0.5549623370170593f,
    0.4256388247013092f,
    0.3167566657066345f,
    0.2196127474308014f,
    0.12934483587741852f,
    0.0427316389977932f,
    0.0f,
    -0.049348119646310806f,
    -0.14982478320598602f,
    -0.25607553124427795f,
    -0.37369510531425476f,
    -0.5124374032020569f,
    -0.6944100856781006f,
    -1.0f,
};

// Quantization picks the nearest code: a value is compared with the 15
// midpoints between consecutive codes *sorted by value*, and the number of
// midpoints strictly below it is its sorted position (ties go to the lower
// code; NaN goes to the top). kSortedToCode maps that position to the stored
// 4-bit index. For FP4 the two zero codes sit at sorted positions 7 (code 0,
// for x <= 0) and 8 (code 8, for x > 0), which is what the reference CPU path emits.
inline constexpr std::array<uint8_t, 16> kNF4SortedToCode = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
inline constexpr std::array<uint8_t, 16> kFP4SortedToCode = {11, 10, 13, 12, 15, 14, 9, 0, 8, 1, 6, 7, 4, 5, 2, 3};

// Midpoints are (a + b) / 2 evaluated in fp32, a and b consecutive sorted codes.
inline constexpr std::array<float, 15> midpoints_of(const std::array<float, 16>& code,
                                                    const std::array<uint8_t, 16>& sorted_to_code) {
  std::array<float, 15> m{};
  for (int i = 0; i < 15; ++i) m[i] = (code[sorted_to_code[i]] + code[sorted_to_code[i + 1]]) / 2.0f;
  return m;
}
inline constexpr std::array<float, 15> kNF4Midpoints = midpoints_of(kNF4Code, kNF4SortedToCode);
inline constexpr std::array<float, 15> kFP4Midpoints = midpoints_of(kFP4Code, kFP4SortedToCode);

static_assert(kNF4Midpoints[0] == -0.8480963706970215f, "NF4 midpoint table");
static_assert(kNF4Midpoints[14] == 0.8614784479141235f, "NF4 midpoint table");
static_assert(kFP4Midpoints[6] == -0.0026041667442768812f && kFP4Midpoints[7] == 0.0f, "FP4 midpoint table");

inline constexpr const std::array<float, 16>& code_table(QuantType t) {
  return t == QuantType::kNF4 ? kNF4Code : kFP4Code;
}
inline constexpr const std::array<float, 15>& midpoint_table(QuantType t) {
  return t == QuantType::kNF4 ? kNF4Midpoints : kFP4Midpoints;
}
inline constexpr const std::array<uint8_t, 16>& sorted_to_code_table(QuantType t) {
  return t == QuantType::kNF4 ? kNF4SortedToCode : kFP4SortedToCode;
}

// Scalar nearest-code search for a value already scaled by 1/absmax. This is
// the reference every SIMD/GPU path must reproduce bit for bit.
BNB_HOST_DEVICE inline uint8_t nearest_4bit_sorted_position(float x, const float* midpoints) {
  int pos = 0;
  for (int i = 0; i < 15; ++i) pos += !(x <= midpoints[i]);  // NaN counts as above every midpoint
  return static_cast<uint8_t>(pos);
}

// ---------------------------------------------------------------------------
// Packing: two 4-bit codes per byte, element 2i in the HIGH nibble, 2i+1 in the
// low nibble. An odd element count leaves the last low nibble holding the code
// of 0.0. Packed bytes: (n + 1) / 2.
// ---------------------------------------------------------------------------
BNB_HOST_DEVICE inline constexpr uint8_t pack_nibbles(uint8_t even, uint8_t odd) {
  return static_cast<uint8_t>((even << 4) | (odd & 0xF));
}
BNB_HOST_DEVICE inline constexpr uint8_t high_nibble(uint8_t b) { return b >> 4; }
BNB_HOST_DEVICE inline constexpr uint8_t low_nibble(uint8_t b) { return b & 0xF; }
inline constexpr int64_t packed_4bit_bytes(int64_t n) { return n / 2 + (n & 1); }  // n + 1 may overflow

// ---------------------------------------------------------------------------
// Block geometry
// ---------------------------------------------------------------------------
inline constexpr int64_t num_blocks(int64_t n, int64_t blocksize) { return (n + blocksize - 1) / blocksize; }

// 4-bit blocksizes: powers of two from 32 to 4096. Default 64.
inline constexpr int64_t k4bitDefaultBlocksize = 64;
inline constexpr bool is_valid_4bit_blocksize(int64_t bs) { return bs >= 32 && bs <= 4096 && (bs & (bs - 1)) == 0; }
// 8-bit blockwise: any positive blocksize on the CPU; the GPU kernels take
// powers of two from 64 to 4096. Default 4096.
inline constexpr int64_t k8bitDefaultBlocksize = 4096;
inline constexpr bool is_valid_8bit_blocksize_gpu(int64_t bs) { return bs >= 64 && bs <= 4096 && (bs & (bs - 1)) == 0; }
// The 4-bit absmax is clamped from below before taking its reciprocal.
inline constexpr float k4bitAbsmaxFloor = 1e-38f;
// A value is scaled before the code search by multiplying with 1 / absmax in a
// full block and by dividing by absmax in a partial last block (the clamped
// absmax in both), as the reference CPU path does; the two round differently.
BNB_HOST_DEVICE inline float scale_4bit(float v, float absmax, float inv_absmax, bool partial_block) {
  return partial_block ? v / absmax : v * inv_absmax;
}
// Double quantization of the 4-bit absmax uses 256-element 8-bit blocks.
inline constexpr int64_t kNestedBlocksize = 256;
// 8-bit optimizer states are quantized in 256-element blocks.
inline constexpr int64_t kOptimizerBlocksize = 256;

// ---------------------------------------------------------------------------
// 8-bit blockwise quantization on the CPU (reference bytes): a value scaled by
// 1/absmax is snapped to a uniform grid of 65536 points over [-1, 1]
// (g_k = k * (2/65535) - 1) and each grid point maps to the code nearest to it
// (ties to the lower index). The grid index is trunc((x + 1) * 32767.5 + 0.5)
// with each operation rounded to fp32; NaN maps to 0, +inf to 65535.
// ---------------------------------------------------------------------------
inline constexpr int kGridPoints = 65536;
BNB_HOST_DEVICE inline uint32_t grid_index(float scaled) {
  float v = (scaled + 1.0f) * 32767.5f;
  v = v + 0.5f;
  if (!(v >= 0.0f)) return 0;  // also NaN
  if (v >= 65535.0f) return 65535;
  return static_cast<uint32_t>(v);
}
// (Built with -ffp-contract=off: the multiply and subtract round separately.)
inline float grid_value(uint32_t k) {
  constexpr float step = static_cast<float>(2.0 / 65535.0);
  const float t = static_cast<float>(k) * step;
  return t - 1.0f;
}
// Builds the grid -> code table for a 256-entry code. A sorted code is searched
// as a sorted table: j = the last code <= g, then the nearer of codes j and j + 1
// (ties to j), so on a run of equal codes (zero padding) a grid point below the
// run takes its first copy and one above it the last copy. The grid points rise,
// so one merge pass finds every j. An unsorted code takes the nearest code by a
// full search (ties to the lower index).
inline void build_grid_lut(const float* code, uint8_t* lut) {
  bool sorted = true;
  for (int i = 1; i < 256; ++i) sorted &= code[i - 1] <= code[i];
  int j = -1;  // the last index with code[j] <= g
  for (uint32_t k = 0; k < static_cast<uint32_t>(kGridPoints); ++k) {
    const float g = grid_value(k);
    if (sorted) {
      while (j < 255 && code[j + 1] <= g) ++j;
      if (j < 0)
        lut[k] = 0;
      else if (j == 255)
        lut[k] = 255;
      else
        lut[k] = static_cast<uint8_t>(std::fabs(g - code[j + 1]) < std::fabs(g - code[j]) ? j + 1 : j);
    } else {
      int best = 0;
      float bd = std::fabs(g - code[0]);
      for (int i = 1; i < 256; ++i) {
        const float d = std::fabs(g - code[i]);
        if (d < bd) bd = d, best = i;
      }
      lut[k] = static_cast<uint8_t>(best);
    }
  }
}

// ---------------------------------------------------------------------------
// Dynamic (signed / unsigned) 8-bit maps: per decade i of max_exponent_bits
// decades, the midpoints of a linspace(0.1, 1) scaled by 10^(i - meb + 1).
// Reproduces torch.linspace's fp32 arithmetic (fused multiply-add from either
// end) so the table equals the Python builder's bit for bit.
// ---------------------------------------------------------------------------
inline std::vector<float> linspace_f32(float start, float end, int steps) {
  std::vector<float> v(steps);
  if (steps == 1) {
    v[0] = start;
    return v;
  }
  const float step = (end - start) / static_cast<float>(steps - 1);
  const int half = steps / 2;
  for (int i = 0; i < steps; ++i)
    v[i] = i < half ? std::fma(step, static_cast<float>(i), start)
                    : std::fma(-step, static_cast<float>(steps - i - 1), end);
  return v;
}

// Returns 256 values (narrower maps padded with zeros), or an empty vector when
// the parameters do not describe exactly 2^total_bits values (for the unsigned
// map only max_exponent_bits == total_bits - 1 does). A signed map with
// max_exponent_bits >= total_bits is the one with total_bits - 1: the decades
// below the last total_bits - 1 would hold no values.
inline std::vector<float> dynamic_map(bool is_signed = true, int max_exponent_bits = 7, int total_bits = 8) {
  if (total_bits < 1 || total_bits > 8 || max_exponent_bits < 0) return {};
  if (is_signed && max_exponent_bits > total_bits - 1) max_exponent_bits = total_bits - 1;
  if (max_exponent_bits >= total_bits || (max_exponent_bits == 0 && total_bits > 1)) return {};
  const int non_sign_bits = total_bits - 1;  // for the unsigned map too
  const int additional_items = (1 << (non_sign_bits - max_exponent_bits)) - 1;
  std::vector<double> data;
  for (int i = 0; i < max_exponent_bits; ++i) {
    const int fraction_items = is_signed ? (1 << (i + non_sign_bits - max_exponent_bits)) + 1
                                         : (1 << (i + non_sign_bits - max_exponent_bits + 1)) + 1;
    const std::vector<float> b = linspace_f32(0.1f, 1.0f, fraction_items);
    const float scale = static_cast<float>(std::pow(10.0, -(max_exponent_bits - 1) + i));
    for (size_t j = 0; j + 1 < b.size(); ++j) {
      const float mean = (b[j] + b[j + 1]) / 2.0f;
      data.push_back(scale * mean);
      if (is_signed) data.push_back(-(scale * mean));
    }
  }
  if (additional_items > 0) {
    const std::vector<float> b = linspace_f32(0.1f, 1.0f, additional_items + 1);
    const float scale = static_cast<float>(std::pow(10.0, -(max_exponent_bits - 1) + max_exponent_bits - 1));
    for (size_t j = 0; j + 1 < b.size(); ++j) {
      const float mean = (b[j] + b[j + 1]) / 2.0f;
      data.push_back(scale * mean);
      if (is_signed) data.push_back(-(scale * mean));
    }
  }
  data.push_back(0.0);
  data.push_back(1.0);
  if (data.size() != (size_t{1} << total_bits)) return {};  // the parameters do not describe 2^total_bits values
  while (data.size() < 256) data.push_back(0.0);            // narrower maps are padded with zeros to 256
  std::sort(data.begin(), data.end());
  return std::vector<float>(data.begin(), data.end());
}

// ---------------------------------------------------------------------------
// LLM.int8() constants
// ---------------------------------------------------------------------------
inline constexpr float kInt8Scale = 127.0f;
// 1/127 as the reference computes it (float64 constant applied in fp32).
inline constexpr double kInt8InvScale = 7.874015718698502e-3;

}  // namespace bnb
