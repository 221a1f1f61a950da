// Which SIMD path the CPU kernels take. Detected once from CPUID/XGETBV; the
// environment variable BNB_CPU_SIMD (scalar | avx2 | avx512 | amx) caps it, and
// tests may change it at run time to compare paths. `amx` is AVX-512 plus
// AVX512-BF16 and the AMX tiles (BF16 and INT8) that Linux granted this process;
// `avx512` on such a machine keeps the kernels off the tiles and off bf16
// arithmetic, as on an AVX-512 CPU without them.
#pragma once

#include <string>

namespace bnb::cpu {

enum class SimdLevel : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAmx = 3 };

struct CpuFeatures {
  bool avx2 = false;         // with FMA and F16C
  bool avx512 = false;       // F, BW, VL, DQ (and OS support for zmm state)
  bool avx512_bf16 = false;  // VCVTNE2PS2BF16 / VDPBF16PS
  bool avx512_vnni = false;  // VPDPBUSD on zmm
  bool avx_vnni = false;     // VPDPBUSD on ymm (VEX)
  bool avx512_vbmi = false;  // VPERMB
  bool amx = false;          // AMX-TILE, AMX-BF16, AMX-INT8, and Linux granted the tile state (XTILEDATA)
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
