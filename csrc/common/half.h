// Torch-free fp16 / bf16 <-> fp32 conversions, bit-exact with the rounding the
// SIMD paths use (round to nearest even, subnormals kept, NaN quieted with its
// sign and top payload bits kept). Host code and CUDA/HIP device code.
#pragma once

#include <cstdint>
#include <cstring>

#include "format.h"  // BNB_HOST_DEVICE

namespace bnb {

// Element types the kernels read and write. Values match nothing in torch on
// purpose: bindings translate ScalarType explicitly.
enum class DType : int { kF32 = 0, kF16 = 1, kBF16 = 2 };

struct bf16_t {
  uint16_t bits;
};
struct fp16_t {
  uint16_t bits;
};

BNB_HOST_DEVICE inline uint32_t f32_bits(float f) {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
BNB_HOST_DEVICE inline float f32_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

BNB_HOST_DEVICE inline float to_f32(float x) { return x; }
BNB_HOST_DEVICE inline float to_f32(bf16_t x) { return f32_from_bits(static_cast<uint32_t>(x.bits) << 16); }
BNB_HOST_DEVICE inline float to_f32(fp16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h.bits & 0x8000u) << 16;
  const uint32_t exp = (h.bits >> 10) & 0x1Fu;
  uint32_t mant = h.bits & 0x3FFu;
  if (exp == 0x1F) return f32_from_bits(sign | 0x7F800000u | (mant << 13));  // inf / NaN
  if (exp != 0) return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
  if (mant == 0) return f32_from_bits(sign);
  // subnormal: normalise
  int e = -1;
  do {
    mant <<= 1;
    ++e;
  } while ((mant & 0x400u) == 0);
  return f32_from_bits(sign | ((112u - e) << 23) | ((mant & 0x3FFu) << 13));
}

BNB_HOST_DEVICE inline bf16_t bf16_from_f32(float f) {
  const uint32_t u = f32_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return bf16_t{static_cast<uint16_t>((u >> 16) | 0x40u)};
  const uint32_t rounded = u + 0x7FFFu + ((u >> 16) & 1u);
  return bf16_t{static_cast<uint16_t>(rounded >> 16)};
}

BNB_HOST_DEVICE inline fp16_t fp16_from_f32(float f) {
  const uint32_t u = f32_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t au = u & 0x7FFFFFFFu;
  if (au > 0x7F800000u) return fp16_t{static_cast<uint16_t>(sign | 0x7E00u | ((au >> 13) & 0x3FFu))};
  if (au >= 0x477FF000u) return fp16_t{static_cast<uint16_t>(sign | 0x7C00u)};  // rounds to >= 65520: inf
  const int exp = static_cast<int>(au >> 23) - 127;
  if (exp >= -14) {  // normal fp16
    const uint32_t mant = au & 0x7FFFFFu;
    uint32_t h = (static_cast<uint32_t>(exp + 15) << 10) | (mant >> 13);
    const uint32_t rem = mant & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // carries into the exponent correctly
    return fp16_t{static_cast<uint16_t>(sign | h)};
  }
  if (exp < -25) return fp16_t{sign};  // below half the smallest subnormal (incl. fp32 subnormals)
  // subnormal fp16: value = mant_full * 2^(exp-23), unit 2^-24
  const uint32_t mant_full = (au & 0x7FFFFFu) | 0x800000u;
  const int shift = -exp - 1;  // 14..24 : mant_full >> shift gives units of 2^-24
  uint32_t h = mant_full >> shift;
  const uint32_t rem = mant_full & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (h & 1u))) ++h;
  return fp16_t{static_cast<uint16_t>(sign | h)};
}

template <typename T>
BNB_HOST_DEVICE inline T from_f32(float f);
template <>
BNB_HOST_DEVICE inline float from_f32<float>(float f) {
  return f;
}
template <>
BNB_HOST_DEVICE inline bf16_t from_f32<bf16_t>(float f) {
  return bf16_from_f32(f);
}
template <>
BNB_HOST_DEVICE inline fp16_t from_f32<fp16_t>(float f) {
  return fp16_from_f32(f);
}

}  // namespace bnb
