// A per-thread scratch buffer, 64-byte aligned (whole cache lines: AMX tile
// rows and AVX-512 vectors), that grows and is reused. ISA-neutral, so kernels
// compiled with any flags may share it.
#pragma once

#include <cstddef>
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

// A ScratchBuffer viewed as `count` elements of T.
template <typename T>
T* scratch(ScratchBuffer& buffer, int64_t count) {
  return static_cast<T*>(buffer.get(static_cast<size_t>(count) * sizeof(T)));
}

}  // namespace bnb::cpu
