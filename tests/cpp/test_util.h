// Helpers shared by the kernel tests: input generators and the list of SIMD
// paths this machine can run.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/half.h"
#include "cpu/kernels/cpu_features.h"

namespace bnb::test {

template <typename Fn>
struct Path {
  std::string name;
  Fn fn;
};

// The scalar path first, then every SIMD path the CPU supports.
template <typename Fn>
std::vector<Path<Fn>> paths(Fn scalar, Fn avx2, Fn avx512) {
  std::vector<Path<Fn>> p{{"scalar", scalar}};
  const auto& f = cpu::cpu_features();
  if (f.avx2 && avx2) p.push_back({"avx2", avx2});
  if (f.avx512 && avx512) p.push_back({"avx512", avx512});
  return p;
}

// Random normals with planted specials: an all-zero block, NaN, +-Inf,
// subnormals and a block of tiny values.
inline std::vector<float> test_values(int64_t n, uint32_t seed, bool specials = true) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  if (specials && n > 400) {
    for (int i = 0; i < 64; ++i) v[i] = 0.0f;
    v[100] = std::numeric_limits<float>::quiet_NaN();
    v[170] = std::numeric_limits<float>::infinity();
    v[171] = -std::numeric_limits<float>::infinity();
    for (int i = 260; i < 270; ++i) v[i] = 1e-40f;
    for (int i = 300; i < 364; ++i) v[i] = 1e-30f * static_cast<float>(i - 330);
  }
  return v;
}

template <typename T>
std::vector<T> convert(const std::vector<float>& v) {
  std::vector<T> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = from_f32<T>(v[i]);
  return out;
}

// Bitwise equality of float buffers (NaN == NaN with the same bits).
template <typename T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

}  // namespace bnb::test
