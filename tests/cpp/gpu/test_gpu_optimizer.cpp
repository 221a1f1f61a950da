// GPU optimizer updates (HIP CPU runtime) against the CPU kernels, bit for
// bit, for every algorithm and dtype over three steps (with non-finite
// gradients in step 2): 8-bit blockwise states (tail blocks included) and
// 32-bit states (LAMB / LARS: the trust-ratio sum within fp32 rounding, then
// the step from that sum exactly).
#include <cstring>

#include "cpu/kernels/optimizer_update.h"
#include "cuda/kernels/optimizer_launchers.h"
#include "gpu_test_util.h"
#include "optimizer_reference.h"

using namespace bnb;

namespace {

template <typename T>
std::vector<T> gradient(int64_t n, int64_t step) {
  auto g = test::test_values(n, 10 + static_cast<uint32_t>(step), step == 2);
  for (auto& x : g) x *= 0.05f;
  return test::convert<T>(g);
}

// nan_p > 0: the parameter at nan_p is NaN (its state turns NaN through the weight decay) and the gradient just
// before it the block's largest, so a new absmax that does not skip the NaN loses it.
template <typename T>
void check_8bit(OptimizerKind kind, DType dtype, int64_t n, int64_t nan_p = -1) {
  const bool two = has_state2(blockwise_kind(kind));
  const int64_t copies = kind == OptimizerKind::kAdEMAMix ? 2 : 1, blocks = num_blocks(n, 256);
  const auto code1 = dynamic_map(true), code2 = dynamic_map(false);
  float mids1[256], mids2[256];
  code_midpoints(code1.data(), mids1);
  code_midpoints(code2.data(), mids2);
  struct State {
    std::vector<T> p;
    std::vector<uint8_t> s1, s2;
    std::vector<float> a1, a2;
  };
  State cpu{test::convert<T>(test::test_values(n, 1, false)), std::vector<uint8_t>(copies * n, 0),
            std::vector<uint8_t>(n, 0), std::vector<float>(copies * blocks, 0.0f), std::vector<float>(blocks, 0.0f)};
  if (nan_p > 0) cpu.p[nan_p] = from_f32<T>(NAN);
  State gpu = cpu;
  for (int64_t step = 1; step <= 3; ++step) {
    std::vector<T> g = gradient<T>(n, step);
    if (nan_p > 0) g[nan_p - 1] = from_f32<T>(1.0f);
    auto args = [&](State& s) {
      Optimizer8bitArgs a{};
      a.kind = kind;
      a.dtype = dtype;
      a.g = g.data();
      a.p = s.p.data();
      a.state1 = s.s1.data();
      a.state2 = two ? s.s2.data() : nullptr;
      a.qmap1 = code1.data();
      a.qmap2 = two ? code2.data() : nullptr;
      a.mids1 = mids1;
      a.mids2 = mids2;
      a.absmax1 = s.a1.data();
      a.absmax2 = two ? s.a2.data() : nullptr;
      a.n = n;
      a.zero1 = signed_zero_index(code1.data());
      a.h = test::optimizer_hyper(step);
      return a;
    };
    cpu::optimizer_8bit_blockwise_scalar(args(cpu), 0, blocks);
    const Optimizer8bitArgs ga = args(gpu);
    test::run_gpu([&](void* stream) { return gpu::launch_optimizer_update_8bit_blockwise(ga, stream); });
    INFO("kind " << static_cast<int>(kind) << " dtype " << static_cast<int>(dtype) << " n " << n << " step " << step
                 << " nan_p " << nan_p);
    REQUIRE(test::same_bytes(gpu.p, cpu.p));
    REQUIRE(gpu.s1 == cpu.s1);
    REQUIRE(gpu.s2 == cpu.s2);
    REQUIRE(test::same_bytes(gpu.a1, cpu.a1));
    REQUIRE(test::same_bytes(gpu.a2, cpu.a2));
  }
}

template <typename T>
void check_32bit(OptimizerKind kind, DType dtype, int64_t n) {
  const int64_t copies = kind == OptimizerKind::kAdEMAMix ? 2 : 1;
  const bool trust = kind == OptimizerKind::kLamb || kind == OptimizerKind::kLars;
  struct State {
    std::vector<T> p;
    std::vector<float> s1, s2;
    float unorm = 0.0f;
  };
  State cpu{test::convert<T>(test::test_values(n, 2, false)), std::vector<float>(copies * n, 0.0f),
            std::vector<float>(n, 0.0f)};
  State gpu = cpu;
  for (int64_t step = 1; step <= 3; ++step) {
    const std::vector<T> g = gradient<T>(n, step);
    auto args = [&](State& s) {
      Optimizer32bitArgs a{};
      a.kind = kind;
      a.dtype = dtype;
      a.g = g.data();
      a.p = s.p.data();
      a.state1 = s.s1.data();
      a.state2 = has_state2(kind) ? s.s2.data() : nullptr;
      a.n = n;
      a.h = test::optimizer_hyper(step);
      a.unorm_sum = trust ? &s.unorm : nullptr;
      a.max_unorm = trust ? 0.02f : 0.0f;  // binds: ||u|| is larger than 0.02 * ||p||
      a.param_norm = 1.0f;
      return a;
    };
    const Optimizer32bitArgs ga = args(gpu);
    test::run_gpu([&](void* stream) { return gpu::launch_optimizer_update_32bit(ga, stream); });
    const Optimizer32bitArgs ca = args(cpu);
    INFO("kind " << static_cast<int>(kind) << " dtype " << static_cast<int>(dtype) << " n " << n << " step " << step);
    if (trust) {
      // sum of n positive terms: fp32 in any order is within (n - 1) * 2^-24 of the fp64 sum, relatively
      const double sum = cpu::optimizer_32bit_unorm_scalar(ca, 0, n);
      REQUIRE(std::fabs(gpu.unorm - sum) <= static_cast<double>(n) * 0x1p-24 * sum);
      REQUIRE(unorm_scale(gpu.unorm, ca.max_unorm, ca.param_norm) < 1.0f);
      cpu.unorm = gpu.unorm;  // the CPU step from the GPU's sum
    }
    cpu::optimizer_32bit_scalar(ca, 0, n);
    REQUIRE(test::same_bytes(gpu.p, cpu.p));
    REQUIRE(test::same_bytes(gpu.s1, cpu.s1));
    REQUIRE(test::same_bytes(gpu.s2, cpu.s2));
  }
}

}  // namespace

TEST_CASE("GPU 8-bit blockwise optimizer update equals the CPU kernel bit for bit", "[gpu][optimizer]") {
  for (const OptimizerKind k : test::kOptimizerKinds)
    // 868 = 3 full blocks and a partial one, a multiple of 4 (the vector path up to the tail)
    for (int64_t n : {int64_t{1}, int64_t{255}, int64_t{868}, int64_t{256 * 7 + 45}}) {
      check_8bit<float>(k, DType::kF32, n);
      check_8bit<fp16_t>(k, DType::kF16, n);
      check_8bit<bf16_t>(k, DType::kBF16, n);
    }
}

TEST_CASE("GPU 8-bit blockwise optimizer: a NaN state is skipped by the new absmax, as on the CPU",
          "[gpu][optimizer]") {
  for (const OptimizerKind k : test::kOptimizerKinds)
    for (int64_t nan_p : {int64_t{1}, int64_t{3}, int64_t{300}}) {  // 4 elements per thread: first, last, other
      check_8bit<float>(k, DType::kF32, 512, nan_p);
      check_8bit<bf16_t>(k, DType::kBF16, 512, nan_p);
    }
}

TEST_CASE("GPU 32-bit optimizer update equals the CPU kernel bit for bit", "[gpu][optimizer]") {
  for (const OptimizerKind k : test::kOptimizerKinds)
    for (int64_t n : {int64_t{1}, int64_t{1000 + 7}}) {
      check_32bit<float>(k, DType::kF32, n);
      check_32bit<fp16_t>(k, DType::kF16, n);
      check_32bit<bf16_t>(k, DType::kBF16, n);
    }
}
