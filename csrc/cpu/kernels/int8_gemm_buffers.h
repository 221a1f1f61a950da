// Per-thread, 64-byte aligned scratch buffers of the SIMD int8 GEMM paths
// (packed B panels, padded A rows, row sums). They grow and are reused.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>

namespace bnb::cpu {

class ScratchBuffer {
 public:
  void* get(size_t bytes) {
    if (bytes > size_) {
      ptr_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
      size_ = ptr_ ? bytes : 0;
    }
    return ptr_.get();
  }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> ptr_;
  size_t size_ = 0;
};

// Rows of A per block: as many as keep the block within ~512 KiB (L2), a multiple of `mr`.
inline int64_t int8_gemm_block_rows(int64_t row_bytes, int64_t mr) {
  int64_t mc = (int64_t{512} << 10) / (row_bytes > 0 ? row_bytes : 1);
  mc = mc / mr * mr;
  if (mc < mr) mc = mr;
  if (mc > 1024) mc = 1024;
  return mc;
}

}  // namespace bnb::cpu
