// Scalar reference path of the int8 GEMM and the run-time path choice.
#include "int8_gemm.h"

#include <cstdlib>
#include <cstring>

#include "../../common/dispatch.h"
#include "cpu_features.h"

namespace bnb::cpu {
namespace {

template <typename T>
void gemm_scaled(const Int8GemmArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  for (int64_t m = m0; m < m1; ++m) {
    const int8_t* x = a.A + m * a.K;
    for (int64_t n = n0; n < n1; ++n) {
      const int8_t* w = a.B + n * a.K;
      int32_t acc = 0;
      for (int64_t k = 0; k < a.K; ++k) acc += static_cast<int32_t>(x[k]) * static_cast<int32_t>(w[k]);
      int8_store_scaled<T>(a, m, n, acc);
    }
  }
}

}  // namespace

void int8_gemm_scalar(const Int8GemmArgs& a, int64_t m_begin, int64_t m_end, int64_t n_begin, int64_t n_end) {
  if (a.out_i32) {
    for (int64_t m = m_begin; m < m_end; ++m) {
      const int8_t* x = a.A + m * a.K;
      for (int64_t n = n_begin; n < n_end; ++n) {
        const int8_t* w = a.B + n * a.K;
        int32_t acc = 0;
        for (int64_t k = 0; k < a.K; ++k) acc += static_cast<int32_t>(x[k]) * static_cast<int32_t>(w[k]);
        a.out_i32[m * a.N + n] = acc;
      }
    }
    return;
  }
  dispatch_dtype(a.dtype,
                 [&](auto tag) { gemm_scaled<typename decltype(tag)::type>(a, m_begin, m_end, n_begin, n_end); });
}

namespace {
Int8GemmFn choose() {
#if defined(BNB_HAVE_X86_KERNELS)
  const SimdLevel l = simd_level();
  static const bool amx_allowed = [] {
    const char* env = std::getenv("BNB_CPU_INT8_AMX");
    return !(env && std::strcmp(env, "0") == 0);
  }();
  if (l >= SimdLevel::kAmx && amx_allowed && int8_amx_available()) return int8_gemm_amx;
  if (l >= SimdLevel::kAvx512 && cpu_features().avx512_vnni) return int8_gemm_avx512_vnni;
  if (l >= SimdLevel::kAvx2 && cpu_features().avx_vnni) return int8_gemm_avx_vnni;
  if (l >= SimdLevel::kAvx2) return int8_gemm_avx2;
#endif
  return int8_gemm_scalar;
}
}  // namespace

void int8_gemm(const Int8GemmArgs& a, int64_t m_begin, int64_t m_end, int64_t n_begin, int64_t n_end) {
  Int8GemmFn f = choose();
#if defined(BNB_HAVE_X86_KERNELS)
  // AMX pads rows to 32 and packs B: a handful of rows (decoding) reads B straight through VNNI instead.
  if (f == int8_gemm_amx && m_end - m_begin <= 4 && cpu_features().avx512_vnni) f = int8_gemm_avx512_vnni;
#endif
  f(a, m_begin, m_end, n_begin, n_end);
}

const char* int8_gemm_path() {
  const Int8GemmFn f = choose();
  if (f == int8_gemm_scalar) return "scalar";
#if defined(BNB_HAVE_X86_KERNELS)
  if (f == int8_gemm_avx512_vnni) return "avx512_vnni";
  if (f == int8_gemm_amx) return "amx";
  if (f == int8_gemm_avx_vnni) return "avx_vnni";
#endif
  return "avx2";
}

}  // namespace bnb::cpu
