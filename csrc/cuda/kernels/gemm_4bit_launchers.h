// Torch-free host entry points of the GPU 4-bit matmul (gemv_4bit / gemm_4bit),
// and the choice of the kernel that runs a given call. Conventions of
// launchers.h: launch on `stream`, return nullptr or the runtime's error string.
//
// Kernels (out = A @ W.T + bias, fp32 accumulation; docs/backends.md):
//   kGemv   up to 4 batch rows: 32 lanes per group of weight rows, 128-bit loads (gemv_4bit.cu)
//   kPlain  any shape, one thread per output (gemv_4bit.cu)
//   kTiled  any batch, 64x64 output tiles, W decoded into shared memory, fp32 FMA (gemm_4bit_tiled.cu)
//   kMma    fp16/bf16 on sm_80+: W decoded in registers straight into mma.sync m16n8k16
//           fragments (gemm_4bit_mma.cu)
//   kDequantGemm  W dequantized to A's dtype, then the vendor GEMM (the binding does the GEMM)
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "../../common/args.h"

namespace bnb::gpu {

enum class Gemm4bitPath { kGemv, kPlain, kTiled, kMma, kDequantGemm };

// BNB_CUDA_GEMM_4BIT_FUSED: unset or "0": the validated paths (kGemv / kPlain up to 4 rows, else
// kDequantGemm); "1": the fused kernels for 5..kFusedMaxRows rows (kMma where it applies, else kTiled);
// "mma" / "simt": that fused kernel for every batch up to kFusedMaxRows where it applies (tests, benchmarks).
enum class FusedMode { kOff, kOn, kMma, kSimt };
inline constexpr int64_t kFusedMaxRows = 1536;

inline FusedMode fused_mode_from_env() {
  const char* v = std::getenv("BNB_CUDA_GEMM_4BIT_FUSED");
  if (v == nullptr || *v == '\0' || std::strcmp(v, "0") == 0) return FusedMode::kOff;
  if (std::strcmp(v, "mma") == 0) return FusedMode::kMma;
  if (std::strcmp(v, "simt") == 0) return FusedMode::kSimt;
  return FusedMode::kOn;
}

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Shape and alignment each kernel needs (kPlain and kDequantGemm take everything).
inline bool gemm_4bit_path_applies(const Gemm4bitArgs& a, Gemm4bitPath p, int arch) {
  const bool vec = a.K % 32 == 0 && aligned16(a.A) && aligned16(a.B);
  switch (p) {
    case Gemm4bitPath::kGemv: return vec && a.M <= 4;
    case Gemm4bitPath::kTiled: return vec;
    case Gemm4bitPath::kMma: return vec && a.K % 128 == 0 && a.dtype != DType::kF32 && arch >= 80;
    default: return true;
  }
}

// The kernel for a call on a device of compute capability `arch` (major * 10 + minor; 0 on ROCm).
inline Gemm4bitPath choose_gemm_4bit_path(const Gemm4bitArgs& a, FusedMode mode, int arch) {
  const auto applies = [&](Gemm4bitPath p) { return gemm_4bit_path_applies(a, p, arch); };
  const bool fused_size = a.M <= kFusedMaxRows;
  if (mode == FusedMode::kMma && fused_size && applies(Gemm4bitPath::kMma)) return Gemm4bitPath::kMma;
  if (mode == FusedMode::kSimt && fused_size && applies(Gemm4bitPath::kTiled)) return Gemm4bitPath::kTiled;
  if (applies(Gemm4bitPath::kGemv)) return Gemm4bitPath::kGemv;
  if (mode == FusedMode::kOn && fused_size && a.M > 4) {
    if (applies(Gemm4bitPath::kMma)) return Gemm4bitPath::kMma;
    if (applies(Gemm4bitPath::kTiled)) return Gemm4bitPath::kTiled;
  }
  return a.M <= 4 ? Gemm4bitPath::kPlain : Gemm4bitPath::kDequantGemm;
}

// Runs kernel `path` (not kDequantGemm); the caller checked gemm_4bit_path_applies.
const char* launch_gemm_4bit(const Gemm4bitArgs& a, Gemm4bitPath path, void* stream);
// W [N, K] in a.dtype into `w` (the scales decoded inline), for the dequantize + GEMM path:
// exactly cast(code * scale) as dequantize_4bit writes it.
const char* launch_dequantize_4bit_weight(const Gemm4bitArgs& a, void* w, void* stream);

}  // namespace bnb::gpu
