// GPU gemv_4bit / gemm_4bit (HIP CPU runtime): every kernel of
// cuda/kernels/gemm_4bit_launchers.h (the GEMV, the plain kernel, the SIMT tiles,
// and the tensor-core kernel through its shared-memory mma emulation, which
// checks its fragment and k-permutation layout) against the fp64 definition
// shared with the CPU tests (docs/formats.md); the weight dequantization of the
// dequantize + GEMM path exactly; and the choice of kernel (docs/backends.md).
#include <algorithm>
#include <array>
#include <cmath>
#include <tuple>

#include "cuda/kernels/gemm_4bit_launchers.h"
#include "gemm_4bit_reference.h"
#include "gpu_test_util.h"

using namespace bnb;
using gpu::Gemm4bitPath;

namespace {

constexpr std::array<Gemm4bitPath, 4> kKernels = {Gemm4bitPath::kGemv, Gemm4bitPath::kPlain, Gemm4bitPath::kTiled,
                                                  Gemm4bitPath::kMma};
constexpr int kArch = 80;  // as on an sm_80 device: every kernel is eligible where the shape allows

const char* name(Gemm4bitPath p) {
  switch (p) {
    case Gemm4bitPath::kGemv: return "gemv";
    case Gemm4bitPath::kPlain: return "plain";
    case Gemm4bitPath::kTiled: return "tiled";
    case Gemm4bitPath::kMma: return "mma";
    default: return "dequant+gemm";
  }
}

// Runs every kernel that takes the problem; counts the runs per kernel.
template <typename T>
void check_kernels(const test::Gemm4bitProblem& p, DType dtype, std::array<int, 4>& runs, bool check_weight) {
  const std::vector<T> A = p.input<T>();
  for (size_t i = 0; i < kKernels.size(); ++i) {
    std::vector<T> out(p.M * p.N, from_f32<T>(NAN));
    const Gemm4bitArgs a = p.args(A.data(), dtype, out.data());
    if (!gpu::gemm_4bit_path_applies(a, kKernels[i], kArch)) continue;
    test::run_gpu([&](void* stream) { return gpu::launch_gemm_4bit(a, kKernels[i], stream); });
    INFO("kernel " << name(kKernels[i]) << " M=" << p.M << " N=" << p.N << " K=" << p.K << " bs=" << p.bs
                   << " nested=" << p.nested << " bias=" << p.bias << " dtype=" << static_cast<int>(dtype));
    REQUIRE(std::count_if(out.begin(), out.end(), [](T v) { return !std::isfinite(to_f32(v)); }) == 0);
    REQUIRE(test::gemm_4bit_worst_error(p, A, out, dtype) <= 1.0);
    ++runs[i];
  }
  if (!check_weight) return;
  // the dequantize + GEMM path's weight: W rounded to the dtype, exactly
  std::vector<T> w(p.N * p.K), expected(p.N * p.K);
  const Gemm4bitArgs a = p.args(A.data(), dtype, nullptr);
  test::run_gpu([&](void* stream) { return gpu::launch_dequantize_4bit_weight(a, w.data(), stream); });
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < p.K; ++k) expected[n * p.K + k] = from_f32<T>(p.weight(n, k));
  REQUIRE(test::same_bytes(w, expected));
}

}  // namespace

TEST_CASE("GPU gemm_4bit kernels equal the definition within rounding, the weight dequantization exactly",
          "[gpu][gemm_4bit]") {
  // (M, N, K): the GEMV for M <= 4 and K % 32 == 0 (N past the 16 or 8 rows per block); the plain kernel
  // for anything; the tiles for K % 32 == 0 (M, N past 64, K ending in half a 64-step); the mma kernel for
  // K % 128 == 0 in each of its four configurations (M <= 16, 32, 64, more), with N past its block columns
  // and a chunk count its K-slices do not divide.
  const std::tuple<int64_t, int64_t, int64_t> shapes[] = {{1, 37, 1024}, {2, 9, 256},   {3, 13, 96}, {4, 8, 256},
                                                          {5, 6, 128},   {2, 7, 100},   {1, 5, 33},  {17, 40, 384},
                                                          {33, 70, 256}, {70, 130, 128}};
  const int64_t blocksizes[] = {32, 64, 256, 4096};
  std::array<int, 4> runs{};
  uint32_t seed = 1;
  for (QuantType qt : {QuantType::kNF4, QuantType::kFP4})
    for (bool nested : {false, true})
      for (const auto& [m, n, k] : shapes) {
        const test::Gemm4bitProblem p(m, n, k, blocksizes[seed % 4], qt, nested, (seed & 1) != 0, seed);
        ++seed;
        const bool weight = seed % 3 == 0;
        check_kernels<float>(p, DType::kF32, runs, weight);
        check_kernels<fp16_t>(p, DType::kF16, runs, weight);
        check_kernels<bf16_t>(p, DType::kBF16, runs, weight);
      }
  for (size_t i = 0; i < kKernels.size(); ++i) {
    INFO("kernel " << name(kKernels[i]));
    REQUIRE(runs[i] > 20);
  }
}

TEST_CASE("GPU gemv_4bit kernels take the code table from the argument", "[gpu][gemm_4bit]") {
  std::array<int, 4> runs{};
  for (int64_t m : {2, 20}) {
    test::Gemm4bitProblem p(m, 11, 256, 32, QuantType::kNF4, false, true, 99);
    for (int i = 0; i < 16; ++i) p.code.push_back(static_cast<float>(i - 7) / 8.0f);  // not a built-in table
    check_kernels<float>(p, DType::kF32, runs, true);
    check_kernels<bf16_t>(p, DType::kBF16, runs, true);
  }
  for (int r : runs) REQUIRE(r > 0);
}

TEST_CASE("gemm_4bit picks the fused kernels only when switched on, and only where they apply", "[gpu][gemm_4bit]") {
  using gpu::FusedMode;
  alignas(16) static const uint8_t buffer[16] = {};
  const auto args = [&](int64_t M, int64_t K, DType dtype, int64_t offset = 0) {
    Gemm4bitArgs a{};
    a.A = buffer + offset, a.B = buffer, a.dtype = dtype, a.M = M, a.N = 64, a.K = K;
    return a;
  };
  const auto pick = [](const Gemm4bitArgs& a, FusedMode mode, int arch) {
    return gpu::choose_gemm_4bit_path(a, mode, arch);
  };
  const DType bf16 = DType::kBF16;
  // the validated default: GEMV for up to 4 rows, else dequantize + vendor GEMM
  REQUIRE(pick(args(1, 4096, bf16), FusedMode::kOff, 90) == Gemm4bitPath::kGemv);
  REQUIRE(pick(args(4, 4096, bf16), FusedMode::kOff, 90) == Gemm4bitPath::kGemv);
  REQUIRE(pick(args(1, 33, bf16), FusedMode::kOff, 90) == Gemm4bitPath::kPlain);
  REQUIRE(pick(args(1, 4096, bf16, 2), FusedMode::kOff, 90) == Gemm4bitPath::kPlain);  // A not 16-byte aligned
  REQUIRE(pick(args(5, 4096, bf16), FusedMode::kOff, 90) == Gemm4bitPath::kDequantGemm);
  // switched on: 5..1536 rows fused, tensor cores where they apply
  REQUIRE(pick(args(4, 4096, bf16), FusedMode::kOn, 90) == Gemm4bitPath::kGemv);
  REQUIRE(pick(args(5, 4096, bf16), FusedMode::kOn, 90) == Gemm4bitPath::kMma);
  REQUIRE(pick(args(1536, 4096, DType::kF16), FusedMode::kOn, 80) == Gemm4bitPath::kMma);
  REQUIRE(pick(args(1537, 4096, bf16), FusedMode::kOn, 90) == Gemm4bitPath::kDequantGemm);
  REQUIRE(pick(args(64, 4096, bf16), FusedMode::kOn, 75) == Gemm4bitPath::kTiled);  // no bf16 mma before sm_80
  REQUIRE(pick(args(64, 4096, bf16), FusedMode::kOn, 0) == Gemm4bitPath::kTiled);   // ROCm
  REQUIRE(pick(args(64, 4096, DType::kF32), FusedMode::kOn, 90) == Gemm4bitPath::kTiled);
  REQUIRE(pick(args(64, 96, bf16), FusedMode::kOn, 90) == Gemm4bitPath::kTiled);  // K % 128 != 0
  REQUIRE(pick(args(64, 100, bf16), FusedMode::kOn, 90) == Gemm4bitPath::kDequantGemm);
  // forced (tests, benchmarks): any batch size the kernel takes
  REQUIRE(pick(args(1, 4096, bf16), FusedMode::kMma, 90) == Gemm4bitPath::kMma);
  REQUIRE(pick(args(1, 4096, bf16), FusedMode::kSimt, 90) == Gemm4bitPath::kTiled);
  REQUIRE(pick(args(1, 4096, DType::kF32), FusedMode::kMma, 90) == Gemm4bitPath::kGemv);
}
