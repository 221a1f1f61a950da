// avx512 paths of the 4-bit matmul (not yet written: the scalar path runs).
#include "gemm_4bit.h"

namespace bnb::cpu {

const Gemm4bitPath* gemm_4bit_avx512_path() { return nullptr; }
const Gemm4bitPath* gemm_4bit_avx512_bf16_path() { return nullptr; }

}  // namespace bnb::cpu
