#include "cpu_features.h"

#include <atomic>
#include <cstdlib>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace bnb::cpu {
namespace {

#if defined(__x86_64__) || defined(_M_X64)
unsigned long long read_xcr0() {
  unsigned int lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27), fma = c & (1u << 12), f16c = c & (1u << 29), avx = c & (1u << 28);
  if (!osxsave || !avx) return f;
  const unsigned long long xcr0 = read_xcr0();
  const bool ymm_os = (xcr0 & 0x6) == 0x6;
  const bool zmm_os = (xcr0 & 0xE6) == 0xE6;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = b & (1u << 5);
  const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30), avx512vl = b & (1u << 31);
  const bool amx_bf16 = d & (1u << 22), amx_tile = d & (1u << 24), amx_int8 = d & (1u << 25);
  const bool tile_os = (xcr0 & 0x60000) == 0x60000;  // XTILECFG, XTILEDATA
  f.avx2 = ymm_os && avx2 && fma && f16c;
  f.avx512 = f.avx2 && zmm_os && avx512f && avx512dq && avx512bw && avx512vl;
  f.avx512_vbmi = f.avx512 && (c & (1u << 1));
  f.avx512_vnni = f.avx512 && (c & (1u << 11));
  __cpuid_count(7, 1, a, b, c, d);
  f.avx512_bf16 = f.avx512 && (a & (1u << 5));
  f.avx_vnni = f.avx2 && (a & (1u << 4));
  // Linux hands out the 8 KiB tile state only on request (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA).
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  f.amx = f.avx512_bf16 && amx_bf16 && amx_tile && amx_int8 && tile_os &&
          syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  return f;
}
#else
CpuFeatures detect() {
  CpuFeatures f;
#if defined(__aarch64__)
  f.neon = true;
#endif
  return f;
}
#endif

SimdLevel best_of(const CpuFeatures& f) {
  if (f.amx) return SimdLevel::kAmx;
  if (f.avx512) return SimdLevel::kAvx512;
  if (f.avx2) return SimdLevel::kAvx2;
  return SimdLevel::kScalar;
}

SimdLevel initial_level() {
  SimdLevel l = best_of(cpu_features());
  if (const char* env = std::getenv("BNB_CPU_SIMD")) {
    SimdLevel requested;
    if (parse_simd_level(env, &requested) && requested < l) l = requested;
  }
  return l;
}

std::atomic<int>& active() {
  static std::atomic<int> level{static_cast<int>(initial_level())};
  return level;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

SimdLevel detected_simd_level() { return best_of(cpu_features()); }

SimdLevel simd_level() { return static_cast<SimdLevel>(active().load(std::memory_order_relaxed)); }

void set_simd_level(SimdLevel level) {
  const SimdLevel best = detected_simd_level();
  active().store(static_cast<int>(level < best ? level : best), std::memory_order_relaxed);
}

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::kAmx: return "amx";
    case SimdLevel::kAvx512: return "avx512";
    case SimdLevel::kAvx2: return "avx2";
    default: return "scalar";
  }
}

bool parse_simd_level(const std::string& name, SimdLevel* out) {
  if (name == "scalar")
    *out = SimdLevel::kScalar;
  else if (name == "avx2")
    *out = SimdLevel::kAvx2;
  else if (name == "avx512")
    *out = SimdLevel::kAvx512;
  else if (name == "amx")
    *out = SimdLevel::kAmx;
  else
    return false;
  return true;
}

}  // namespace bnb::cpu
