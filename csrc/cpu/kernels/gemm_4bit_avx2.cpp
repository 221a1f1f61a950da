// avx2 paths of the 4-bit matmul (not yet written: the scalar path runs).
#include "gemm_4bit.h"

namespace bnb::cpu {

const Gemm4bitPath* gemm_4bit_avx2_path() { return nullptr; }

}  // namespace bnb::cpu
