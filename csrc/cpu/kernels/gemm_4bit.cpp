// Scalar reference path of the 4-bit matmul and the run-time path choice. The
// scalar path defines the result: each weight row is decoded and rounded to
// A's dtype (as dequantize_4bit would give it), then dotted with every batch
// row in fp32, in column order. It handles every shape (any K, blocks that
// straddle rows, odd element counts).
#include "gemm_4bit.h"

#include <algorithm>
#include <vector>

#include "../../common/dispatch.h"
#include "cpu_features.h"

namespace bnb::cpu {
namespace {

// W[n, 0..K) as fp32 values of A's dtype.
template <typename T>
void decode_row(const Gemm4bitArgs& a, const float* code, int64_t n, float* w) {
  const int64_t first = n * a.K;
  int64_t block = -1;
  float scale = 0.0f;
  for (int64_t k = 0; k < a.K; ++k) {
    const int64_t e = first + k;
    if (e / a.blocksize != block) {
      block = e / a.blocksize;
      scale = gemm_4bit_block_scale(a, block);
    }
    const uint8_t byte = a.B[e / 2];
    w[k] = to_f32(from_f32<T>(code[(e & 1) ? low_nibble(byte) : high_nibble(byte)] * scale));
  }
}

template <typename T>
void run_scalar(const Gemm4bitArgs& a, int64_t n_begin, int64_t n_end) {
  const T* A = static_cast<const T*>(a.A);
  T* out = static_cast<T*>(a.out);
  const float* code = gemm_4bit_code(a);
  std::vector<float> w(static_cast<size_t>(a.K));
  for (int64_t n = n_begin; n < n_end; ++n) {
    decode_row<T>(a, code, n, w.data());
    const float bias = a.bias != nullptr ? a.bias[n] : 0.0f;
    for (int64_t m = 0; m < a.M; ++m) {
      const T* x = A + m * a.K;
      float acc = 0.0f;
      for (int64_t k = 0; k < a.K; ++k) acc += to_f32(x[k]) * w[k];
      out[m * a.N + n] = from_f32<T>(acc + bias);
    }
  }
}

int64_t no_workspace(const Gemm4bitArgs&) { return 0; }
void no_pack(const Gemm4bitArgs&, void*, int64_t, int64_t) {}
void scalar_run(const Gemm4bitArgs& a, const void*, int64_t n_begin, int64_t n_end) {
  dispatch_dtype(a.dtype, [&](auto tag) { run_scalar<typename decltype(tag)::type>(a, n_begin, n_end); });
}
bool supports_all(const Gemm4bitArgs&) { return true; }

constexpr Gemm4bitPath kScalar{"scalar", no_workspace, no_pack, scalar_run, supports_all, 8, 1};

}  // namespace

const Gemm4bitPath& gemm_4bit_scalar_path() { return kScalar; }

#if !defined(BNB_HAVE_X86_KERNELS)
const Gemm4bitPath* gemm_4bit_avx2_path() { return nullptr; }
const Gemm4bitPath* gemm_4bit_avx2_tiled_path() { return nullptr; }
const Gemm4bitPath* gemm_4bit_avx2_int16_path() { return nullptr; }
const Gemm4bitPath* gemm_4bit_avx512_path() { return nullptr; }
const Gemm4bitPath* gemm_4bit_avx512_tiled_path() { return nullptr; }
const Gemm4bitPath* gemm_4bit_amx_path() { return nullptr; }
#endif

// From 4 batch rows on, AMX tiles beat the fused AVX-512 kernel (whose FMAs grow with the batch) with weights
// rotated past the L3, as an LLM's are (1 thread, Sapphire Rapids, 11008x4096: batch 3 fused 13.6 vs AMX 11.8
// G weights/s, batch 4 10.6 vs 11.5; in cache AMX wins from batch 3, 17.7 vs 15.0).
constexpr int64_t kAmxMinBatch = 4;

const Gemm4bitPath& gemm_4bit_path(const Gemm4bitArgs& a) {
  const SimdLevel level = simd_level();
  const bool fused = a.M <= kFusedMaxBatch;
  const bool bf16 = a.dtype == DType::kBF16;
  const Gemm4bitPath* candidates[4] = {nullptr, nullptr, nullptr, nullptr};
  if (level >= SimdLevel::kAmx && bf16 && a.M >= kAmxMinBatch) candidates[0] = gemm_4bit_amx_path();
  if (level >= SimdLevel::kAvx512) candidates[1] = fused ? gemm_4bit_avx512_path() : gemm_4bit_avx512_tiled_path();
  if (level >= SimdLevel::kAvx2 && fused) candidates[2] = gemm_4bit_avx2_int16_path();  // bf16 / fp16 A
  if (level >= SimdLevel::kAvx2) candidates[3] = fused ? gemm_4bit_avx2_path() : gemm_4bit_avx2_tiled_path();
  for (const Gemm4bitPath* p : candidates)
    if (p != nullptr && p->supports(a)) return *p;
  return kScalar;
}

}  // namespace bnb::cpu
