// Runtime value -> compile-time parameter switches. Each takes a generic lambda
// and calls it with a tag whose ::type / ::value is the chosen parameter.
#pragma once

#include <type_traits>

#include "format.h"
#include "half.h"

namespace bnb {

template <typename T>
struct TypeTag {
  using type = T;
};

// Calls f(TypeTag<float|fp16_t|bf16_t>{}). Returns whatever f returns.
template <typename F>
decltype(auto) dispatch_dtype(DType t, F&& f) {
  switch (t) {
    case DType::kF16: return f(TypeTag<fp16_t>{});
    case DType::kBF16: return f(TypeTag<bf16_t>{});
    case DType::kF32:
    default: return f(TypeTag<float>{});
  }
}

// Calls f(std::integral_constant<QuantType, ...>{}).
template <typename F>
decltype(auto) dispatch_quant_type(QuantType t, F&& f) {
  if (t == QuantType::kNF4) return f(std::integral_constant<QuantType, QuantType::kNF4>{});
  return f(std::integral_constant<QuantType, QuantType::kFP4>{});
}

// Calls f(std::integral_constant<int, BS>{}) for the 4-bit / GPU blocksizes
// 32..4096; anything else calls f(std::integral_constant<int, 0>{}) (runtime
// blocksize path).
template <typename F>
decltype(auto) dispatch_blocksize(int64_t bs, F&& f) {
  switch (bs) {
    case 32: return f(std::integral_constant<int, 32>{});
    case 64: return f(std::integral_constant<int, 64>{});
    case 128: return f(std::integral_constant<int, 128>{});
    case 256: return f(std::integral_constant<int, 256>{});
    case 512: return f(std::integral_constant<int, 512>{});
    case 1024: return f(std::integral_constant<int, 1024>{});
    case 2048: return f(std::integral_constant<int, 2048>{});
    case 4096: return f(std::integral_constant<int, 4096>{});
    default: return f(std::integral_constant<int, 0>{});
  }
}

}  // namespace bnb
