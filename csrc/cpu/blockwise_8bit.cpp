// CPU bindings of bitsandbytes::quantize_blockwise and dequantize_blockwise (and .out).
#include <array>
#include <cstring>
#include <memory>
#include <mutex>

#include "../checks.h"
#include "../ops.h"
#include "kernels/blockwise_8bit.h"
#include "parallel.h"

namespace bnb::ops {
namespace {

void check_code(const char* op, const at::Tensor& code, const at::Tensor& A) {
  check_dtype(op, "code", code, at::kFloat);
  check_same_device(op, "code", code, A);
  TORCH_CHECK_VALUE(code.numel() == 256, "bitsandbytes::", op, ": code must have 256 entries, got ", code.numel());
}

// Grid tables for the last few codes seen (building one costs ~65k steps; the
// dynamic map is used over and over).
std::shared_ptr<const std::vector<uint8_t>> grid_lut_for(const float* code) {
  struct Entry {
    std::array<float, 256> code;
    std::shared_ptr<const std::vector<uint8_t>> lut;
  };
  static std::mutex mu;
  static std::vector<Entry> cache;  // most recent last
  constexpr size_t kMaxEntries = 8;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (auto it = cache.begin(); it != cache.end(); ++it) {
      if (std::memcmp(it->code.data(), code, sizeof(float) * 256) == 0) {
        Entry hit = *it;
        cache.erase(it);
        cache.push_back(hit);
        return hit.lut;
      }
    }
  }
  auto lut = std::make_shared<std::vector<uint8_t>>(cpu::kGridLutBytes, 0);
  build_grid_lut(code, lut->data());
  Entry e;
  std::memcpy(e.code.data(), code, sizeof(float) * 256);
  e.lut = lut;
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= kMaxEntries) cache.erase(cache.begin());
  cache.push_back(e);
  return lut;
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> quantize_blockwise_cpu(const at::Tensor& A, const at::Tensor& code,
                                                          int64_t blocksize) {
  constexpr const char* op = "quantize_blockwise";
  check_8bit_blocksize_cpu(op, blocksize);
  const DType dtype = to_dtype(op, "A", A.scalar_type());
  check_code(op, code, A);
  const at::Tensor input = A.contiguous();
  const at::Tensor code_c = code.contiguous();
  const int64_t n = A.numel();
  at::Tensor out = at::empty(A.sizes(), A.options().dtype(at::kByte));
  at::Tensor absmax = at::empty({num_blocks(n, blocksize)}, A.options().dtype(at::kFloat));
  if (n == 0) return {out, absmax};
  const auto lut = grid_lut_for(code_c.data_ptr<float>());
  const cpu::QuantizeBlockwiseArgs args{input.data_ptr(), dtype, n, blocksize, lut->data(), out.data_ptr<uint8_t>(),
                                        absmax.data_ptr<float>()};
  cpu::parallel_over_blocks(absmax.numel(), blocksize,
                            [&](int64_t begin, int64_t end) { cpu::quantize_blockwise(args, begin, end); });
  return {out, absmax};
}

void dequantize_blockwise_out_cpu(const at::Tensor& A, const at::Tensor& absmax, const at::Tensor& code,
                                  int64_t blocksize, at::ScalarType dtype, const at::Tensor& out) {
  constexpr const char* op = "dequantize_blockwise";
  check_8bit_blocksize_cpu(op, blocksize);
  check_dtype(op, "A", A, at::kByte);
  const DType out_dtype = to_dtype(op, "dtype", dtype);
  check_code(op, code, A);
  const int64_t n = A.numel();
  check_absmax(op, absmax, n, blocksize, A);
  check_out(op, out, A.sizes(), dtype, A);
  const at::Tensor in = A.contiguous();
  const at::Tensor code_c = code.contiguous();
  const at::Tensor scales = absmax.contiguous();
  const cpu::DequantizeBlockwiseArgs args{in.data_ptr<uint8_t>(), code_c.data_ptr<float>(), scales.data_ptr<float>(),
                                          n, blocksize, out.data_ptr(), out_dtype};
  cpu::parallel_over_blocks(num_blocks(n, blocksize), blocksize,
                            [&](int64_t begin, int64_t end) { cpu::dequantize_blockwise(args, begin, end); });
}

at::Tensor dequantize_blockwise_cpu(const at::Tensor& A, const at::Tensor& absmax, const at::Tensor& code,
                                    int64_t blocksize, at::ScalarType dtype) {
  at::Tensor out = at::empty(A.sizes(), A.options().dtype(dtype));
  dequantize_blockwise_out_cpu(A, absmax, code, blocksize, dtype, out);
  return out;
}

}  // namespace bnb::ops
