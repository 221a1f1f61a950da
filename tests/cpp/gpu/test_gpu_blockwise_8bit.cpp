// GPU 8-bit blockwise quantization (HIP CPU runtime). The GPU picks the exact
// nearest code of x / absmax (docs/formats.md: the GPU rule), where the CPU
// snaps to the 65536-point grid first, so quantization is compared with an
// exact reference; dequantization equals the CPU kernel bit for bit.
#include <cmath>

#include "cpu/kernels/blockwise_8bit.h"
#include "cuda/kernels/launchers.h"
#include "gpu_test_util.h"

using namespace bnb;

namespace {

// The nearest code to s (ties to the lower index); NaN -> 0, +-inf -> the ends.
uint8_t nearest_code_reference(const std::vector<float>& code, float s) {
  if (s != s) return 0;
  if (std::isinf(s)) return s > 0 ? 255 : 0;
  int best = 0;
  for (int i = 1; i < 256; ++i)
    if (std::fabs(code[i] - s) < std::fabs(code[best] - s)) best = i;
  return static_cast<uint8_t>(best);
}

template <typename T>
void check_blockwise(const std::vector<float>& values, int64_t blocksize, const std::vector<float>& code, DType dtype) {
  const std::vector<T> input = test::convert<T>(values);
  const int64_t n = static_cast<int64_t>(input.size());
  const int64_t blocks = num_blocks(n, blocksize);
  std::vector<uint8_t> q(n, 0xAA);
  std::vector<float> absmax(blocks, -1.0f);
  const QuantizeBlockwiseArgs a{input.data(), dtype, n, blocksize, nullptr, code.data(), q.data(), absmax.data()};
  test::run_gpu([&] { return gpu::launch_quantize_blockwise(a, nullptr); });
  INFO("n=" << n << " blocksize=" << blocksize << " dtype=" << static_cast<int>(dtype));
  std::vector<uint8_t> q_ref(n);
  std::vector<float> absmax_ref(blocks);
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t end = std::min(n, (b + 1) * blocksize);
    float amax = 0.0f;  // NaNs skipped
    for (int64_t i = b * blocksize; i < end; ++i) amax = std::max(amax, std::fabs(to_f32(input[i])));
    absmax_ref[b] = amax;
    const float inv = 1.0f / amax;
    for (int64_t i = b * blocksize; i < end; ++i) q_ref[i] = nearest_code_reference(code, to_f32(input[i]) * inv);
  }
  REQUIRE(test::same_bytes(absmax, absmax_ref));
  REQUIRE(q == q_ref);

  std::vector<T> cpu_out(n), gpu_out(n);
  cpu::dequantize_blockwise_scalar({q.data(), code.data(), absmax.data(), n, blocksize, cpu_out.data(), dtype}, 0,
                                   blocks);
  const DequantizeBlockwiseArgs d{q.data(), code.data(), absmax.data(), n, blocksize, gpu_out.data(), dtype};
  test::run_gpu([&] { return gpu::launch_dequantize_blockwise(d, nullptr); });
  REQUIRE(test::same_bytes(gpu_out, cpu_out));
}

}  // namespace

TEST_CASE("GPU quantize_blockwise picks the exact nearest code; dequantize_blockwise equals the CPU kernel",
          "[gpu][blockwise_8bit]") {
  const std::vector<float> signed_map = dynamic_map(true), unsigned_map = dynamic_map(false);
  for (const auto* code : {&signed_map, &unsigned_map}) {
    for (int64_t bs : {64, 128, 256, 512, 1024, 2048, 4096}) {
      for (int64_t n : {int64_t{1}, int64_t{3}, int64_t{63}, bs - 1, bs, bs + 1, 3 * bs + 33}) {
        const auto v = test::test_values(n, static_cast<uint32_t>(n * 7 + bs));
        check_blockwise<float>(v, bs, *code, DType::kF32);
        check_blockwise<fp16_t>(v, bs, *code, DType::kF16);
        check_blockwise<bf16_t>(v, bs, *code, DType::kBF16);
      }
    }
  }
}
