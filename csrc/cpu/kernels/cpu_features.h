// Which SIMD path the CPU kernels take. Detected once from CPUID/XGETBV; the
// environment variable BNB_CPU_SIMD (scalar | avx2 | avx512) caps it, and tests
// may change it at run time to compare paths.
#pragma once

#include <string>

namespace bnb::cpu {

enum class SimdLevel : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

struct CpuFeatures {
  bool avx2 = false;         // with FMA and F16C
  bool avx512 = false;       // F, BW, VL, DQ (and OS support for zmm state)
  bool avx512_bf16 = false;  // VCVTNE2PS2BF16 / VDPBF16PS
  bool avx512_vnni = false;  // VPDPBUSD on zmm
  bool avx_vnni = false;     // VPDPBUSD on ymm (VEX)
  bool avx512_vbmi = false;  // VPERMB
  bool neon = false;
};

const CpuFeatures& cpu_features();
SimdLevel detected_simd_level();       // best the machine supports
SimdLevel simd_level();                // the level kernels use now
void set_simd_level(SimdLevel level);  // clamped to detected_simd_level()
const char* simd_level_name(SimdLevel level);
bool parse_simd_level(const std::string& name, SimdLevel* out);

// Picks the implementation for the active level. Paths that do not exist on
// this architecture are passed as nullptr and fall back to the next lower one.
template <typename Fn>
Fn select_kernel(Fn scalar, Fn avx2, Fn avx512) {
  const SimdLevel l = simd_level();
  if (l >= SimdLevel::kAvx512 && avx512) return avx512;
  if (l >= SimdLevel::kAvx2 && avx2) return avx2;
  return scalar;
}

}  // namespace bnb::cpu
