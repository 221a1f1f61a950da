// CPU bindings of bitsandbytes::quantize_blockwise and dequantize_blockwise (and .out).
#include <array>
#include <cstring>
#include <memory>
#include <mutex>

#include "../alloc.h"
#include "../ops.h"
#include "../prepare.h"
#include "kernels/blockwise_8bit.h"
#include "parallel.h"

namespace bnb::ops {
namespace {

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
  PreparedQuantizeBlockwise p = prepare_quantize_blockwise(A, code, blocksize);
  if (p.args.n == 0) return {p.out, p.absmax};
  const auto lut = grid_lut_for(p.args.code);
  p.args.grid_lut = lut->data();
  cpu::parallel_over_blocks(p.absmax.numel(), blocksize,
                            [&](int64_t begin, int64_t end) { cpu::quantize_blockwise(p.args, begin, end); });
  return {p.out, p.absmax};
}

void dequantize_blockwise_out_cpu(const at::Tensor& A, const at::Tensor& absmax, const at::Tensor& code,
                                  int64_t blocksize, at::ScalarType dtype, const at::Tensor& out) {
  const PreparedDequantizeBlockwise p = prepare_dequantize_blockwise(A, absmax, code, blocksize, dtype, out);
  cpu::parallel_over_blocks(num_blocks(p.args.n, blocksize), blocksize,
                            [&](int64_t begin, int64_t end) { cpu::dequantize_blockwise(p.args, begin, end); });
}

at::Tensor dequantize_blockwise_cpu(const at::Tensor& A, const at::Tensor& absmax, const at::Tensor& code,
                                    int64_t blocksize, at::ScalarType dtype) {
  at::Tensor out = empty_output(A.sizes(), A.options().dtype(dtype));
  dequantize_blockwise_out_cpu(A, absmax, code, blocksize, dtype, out);
  return out;
}

}  // namespace bnb::ops
