// A gemm_4bit / gemv_4bit test problem (random packed weight, plain or nested
// scales, optional bias) and its definition in fp64, shared by the CPU kernel
// tests and the GPU kernel tests (tests/cpp/gpu).
#pragma once

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "common/args.h"
#include "common/format.h"
#include "test_util.h"

namespace bnb::test {

struct Gemm4bitProblem {
  int64_t M, N, K, bs;
  QuantType qt;
  bool nested, bias;
  std::vector<uint8_t> packed, q8;
  std::vector<float> absmax, nested_absmax, absmax_code, bias_v;
  std::vector<float> code;  // gemv_4bit's 16-entry table, or empty: the built-in table of qt
  float offset = 0.0137f;

  Gemm4bitProblem(int64_t m, int64_t n, int64_t k, int64_t b, QuantType t, bool nest, bool with_bias, uint32_t seed)
      : M(m), N(n), K(k), bs(b), qt(t), nested(nest), bias(with_bias) {
    std::mt19937 rng(seed);
    packed.resize(packed_4bit_bytes(N * K));
    for (auto& x : packed) x = static_cast<uint8_t>(rng());
    const int64_t blocks = num_blocks(N * K, bs);
    absmax = test_values(blocks, seed + 1, false);
    for (auto& x : absmax) x = std::fabs(x) + 0.1f;
    q8.resize(blocks);
    for (auto& x : q8) x = static_cast<uint8_t>(rng());
    nested_absmax = test_values(num_blocks(blocks, kNestedBlocksize), seed + 2, false);
    absmax_code = test_values(256, seed + 3, false);
    bias_v = test_values(N, seed + 4, false);
  }

  Gemm4bitArgs args(const void* A, DType dtype, void* out) const {
    return Gemm4bitArgs{A,
                        dtype,
                        M,
                        N,
                        K,
                        packed.data(),
                        code.empty() ? nullptr : code.data(),
                        qt,
                        bs,
                        nested ? nested_absmax.data() : absmax.data(),
                        nested ? q8.data() : nullptr,
                        nested ? absmax_code.data() : nullptr,
                        nested ? &offset : nullptr,
                        bias ? bias_v.data() : nullptr,
                        out};
  }

  // The scale of block j, in fp32 as every kernel computes it.
  float scale(int64_t j) const {
    return nested ? absmax_code[q8[j]] * nested_absmax[j / kNestedBlocksize] + offset : absmax[j];
  }
  // W[n, k] in fp32.
  float weight(int64_t n, int64_t k) const {
    const int64_t e = n * K + k;
    const uint8_t b = packed[e / 2];
    const float* table = code.empty() ? code_table(qt).data() : code.data();
    return table[(e & 1) ? low_nibble(b) : high_nibble(b)] * scale(e / bs);
  }

  template <typename T>
  std::vector<T> input() const {
    return convert<T>(test_values(M * K, static_cast<uint32_t>(K + N), false));
  }
};

// The definition of each output, the fp64 sum of A * W (W in fp32) plus bias, and its
// size, |definition| + sqrt(sum of squared products).
struct Gemm4bitExpected {
  std::vector<double> value, size;
};

template <typename T>
Gemm4bitExpected gemm_4bit_expected(const Gemm4bitProblem& p, const std::vector<T>& A) {
  Gemm4bitExpected e{std::vector<double>(p.M * p.N), std::vector<double>(p.M * p.N)};
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t m = 0; m < p.M; ++m) {
      double s = 0, s2 = 0;
      for (int64_t k = 0; k < p.K; ++k) {
        const double prod = double(to_f32(A[m * p.K + k])) * double(p.weight(n, k));
        s += prod, s2 += prod * prod;
      }
      e.value[m * p.N + n] = s + (p.bias ? p.bias_v[n] : 0.0);
      e.size[m * p.N + n] = std::fabs(e.value[m * p.N + n]) + std::sqrt(s2);
    }
  return e;
}

// Largest |out - definition| / (tol * size) over the outputs. tol covers the rounding of W
// to A's dtype, fp32 accumulation in any order and the final rounding to the dtype: <= 1 passes.
template <typename T>
double gemm_4bit_worst_error(const Gemm4bitExpected& e, const std::vector<T>& out, DType dtype) {
  const double tol = dtype == DType::kF32 ? 2e-5 : dtype == DType::kF16 ? 3e-3 : 1.5e-2;
  double worst = 0;
  for (size_t i = 0; i < out.size(); ++i)
    worst = std::max(worst, std::fabs(double(to_f32(out[i])) - e.value[i]) / (tol * e.size[i] + 1e-30));
  return worst;
}

template <typename T>
double gemm_4bit_worst_error(const Gemm4bitProblem& p, const std::vector<T>& A, const std::vector<T>& out,
                             DType dtype) {
  return gemm_4bit_worst_error(gemm_4bit_expected(p, A), out, dtype);
}

}  // namespace bnb::test
