// GPU 4-bit quantization and dequantization (HIP CPU runtime) against the CPU
// kernels: the same bytes, absmax bits and outputs (docs/formats.md).
#include "cpu/kernels/dequantize_4bit.h"
#include "cpu/kernels/quantize_4bit.h"
#include "cuda/kernels/launchers.h"
#include "gpu_test_util.h"

using namespace bnb;

namespace {

// offset: elements the GPU's input and output start past an aligned address
// (1: the kernels' unaligned paths).
template <typename T>
void check_quantize_4bit(const std::vector<float>& values, int64_t blocksize, QuantType qt, DType dtype,
                         int offset = 0) {
  std::vector<T> buffer = test::convert<T>(std::vector<float>(offset, 0.0f));
  const std::vector<T> input = test::convert<T>(values);
  buffer.insert(buffer.end(), input.begin(), input.end());
  const int64_t n = static_cast<int64_t>(input.size());
  const int64_t blocks = num_blocks(n, blocksize);
  std::vector<uint8_t> cpu_packed(packed_4bit_bytes(n), 0xAA), gpu_packed(packed_4bit_bytes(n), 0x55);
  std::vector<float> cpu_absmax(blocks, -1.0f), gpu_absmax(blocks, -2.0f);
  cpu::quantize_4bit_scalar({input.data(), dtype, n, blocksize, qt, cpu_packed.data(), cpu_absmax.data()}, 0, blocks);
  const Quantize4bitArgs g{buffer.data() + offset, dtype, n, blocksize, qt, gpu_packed.data(), gpu_absmax.data()};
  test::run_gpu([&](void* stream) { return gpu::launch_quantize_4bit(g, stream); });
  INFO("n=" << n << " blocksize=" << blocksize << " dtype=" << static_cast<int>(dtype) << " offset=" << offset);
  REQUIRE(gpu_packed == cpu_packed);
  REQUIRE(test::same_bytes(gpu_absmax, cpu_absmax));

  // dequantize the same bytes on both
  std::vector<T> cpu_out(n), gpu_out(n + offset);
  cpu::dequantize_4bit_scalar({cpu_packed.data(), cpu_absmax.data(), n, blocksize, qt, cpu_out.data(), dtype}, 0,
                              blocks);
  const Dequantize4bitArgs d{cpu_packed.data(), cpu_absmax.data(), n, blocksize, qt, gpu_out.data() + offset, dtype};
  test::run_gpu([&](void* stream) { return gpu::launch_dequantize_4bit(d, stream); });
  gpu_out.erase(gpu_out.begin(), gpu_out.begin() + offset);
  REQUIRE(test::same_bytes(gpu_out, cpu_out));
}

}  // namespace

TEST_CASE("GPU quantize_4bit / dequantize_4bit equal the CPU kernels bit for bit", "[gpu][4bit]") {
  for (QuantType qt : {QuantType::kNF4, QuantType::kFP4}) {
    for (int64_t bs : {32, 64, 128, 256, 512, 1024, 2048, 4096}) {
      for (int64_t n : {int64_t{1}, int64_t{2}, int64_t{15}, int64_t{17}, bs - 1, bs, bs + 1, 3 * bs + 33}) {
        const auto v = test::test_values(n, static_cast<uint32_t>(n * 31 + bs));
        check_quantize_4bit<float>(v, bs, qt, DType::kF32);
        check_quantize_4bit<fp16_t>(v, bs, qt, DType::kF16);
        check_quantize_4bit<bf16_t>(v, bs, qt, DType::kBF16);
      }
    }
  }
}

TEST_CASE("GPU quantize_4bit / dequantize_4bit: unaligned input and output take the element-wise path", "[gpu][4bit]") {
  for (int64_t bs : {32, 64, 4096}) {
    const auto v = test::test_values(2 * bs + 17, static_cast<uint32_t>(bs));
    check_quantize_4bit<float>(v, bs, QuantType::kNF4, DType::kF32, 1);
    check_quantize_4bit<fp16_t>(v, bs, QuantType::kFP4, DType::kF16, 1);
    check_quantize_4bit<bf16_t>(v, bs, QuantType::kNF4, DType::kBF16, 1);
  }
}
