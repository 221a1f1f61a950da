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

// offset: elements the GPU's input and output start past an aligned address.
template <typename T>
void check_blockwise(const std::vector<float>& values, int64_t blocksize, const std::vector<float>& code, DType dtype,
                     int offset = 0) {
  std::vector<T> buffer = test::convert<T>(std::vector<float>(offset, 0.0f));
  const std::vector<T> input = test::convert<T>(values);
  buffer.insert(buffer.end(), input.begin(), input.end());
  const int64_t n = static_cast<int64_t>(input.size());
  const int64_t blocks = num_blocks(n, blocksize);
  std::vector<uint8_t> q(n, 0xAA);
  std::vector<float> absmax(blocks, -1.0f);
  const QuantizeBlockwiseArgs a{buffer.data() + offset, dtype, n, blocksize, nullptr, code.data(), q.data(),
                                absmax.data()};
  test::run_gpu([&](void* stream) { return gpu::launch_quantize_blockwise(a, stream); });
  INFO("n=" << n << " blocksize=" << blocksize << " dtype=" << static_cast<int>(dtype) << " offset=" << offset);
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

  std::vector<T> cpu_out(n), gpu_out(n + offset);
  cpu::dequantize_blockwise_scalar({q.data(), code.data(), absmax.data(), n, blocksize, cpu_out.data(), dtype}, 0,
                                   blocks);
  const DequantizeBlockwiseArgs d{q.data(), code.data(), absmax.data(), n, blocksize, gpu_out.data() + offset, dtype};
  test::run_gpu([&](void* stream) { return gpu::launch_dequantize_blockwise(d, stream); });
  gpu_out.erase(gpu_out.begin(), gpu_out.begin() + offset);
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

TEST_CASE("GPU blockwise 8-bit: other blocksizes, unaligned data and a code with repeated values",
          "[gpu][blockwise_8bit]") {
  const std::vector<float> signed_map = dynamic_map(true);
  // the op takes any positive blocksize: those the vector kernels do not cover run the strided kernel
  for (int64_t bs : {1, 32, 100, 4095, 5000}) {
    const auto v = test::test_values(3 * bs + 7, static_cast<uint32_t>(bs));
    check_blockwise<float>(v, bs, signed_map, DType::kF32);
    check_blockwise<bf16_t>(v, bs, signed_map, DType::kBF16);
  }
  for (int64_t bs : {64, 4096}) {
    const auto v = test::test_values(2 * bs + 9, static_cast<uint32_t>(bs + 1));
    check_blockwise<float>(v, bs, signed_map, DType::kF32, 1);
    check_blockwise<fp16_t>(v, bs, signed_map, DType::kF16, 1);
  }
  // a 4-bit map padded to 256 entries with zeros (as create_dynamic_map(total_bits=4) gives)
  const std::vector<float> narrow = dynamic_map(true, 2, 4);
  REQUIRE(narrow.size() == 256);
  check_blockwise<float>(test::test_values(1000, 3), 256, narrow, DType::kF32);
}

TEST_CASE("GPU quantize_blockwise: a NaN anywhere in a block is skipped by the absmax", "[gpu][blockwise_8bit]") {
  // The NaN right after the block's largest |x|, at the end of a thread's elements (8 or 16 per thread) or
  // anywhere else: the absmax is the max of the other values whatever order the reduction combines them in.
  const std::vector<float> signed_map = dynamic_map(true);
  for (int64_t bs : {64, 512, 4096, 100}) {
    for (int64_t p : {int64_t{1}, int64_t{7}, int64_t{15}, int64_t{16}, bs / 2 + 7, bs - 1}) {
      std::vector<float> v = test::test_values(2 * bs, static_cast<uint32_t>(bs + p), false);
      v[p - 1] = 50.0f;
      v[p] = NAN;
      check_blockwise<float>(v, bs, signed_map, DType::kF32);
      check_blockwise<fp16_t>(v, bs, signed_map, DType::kF16);
    }
  }
}
