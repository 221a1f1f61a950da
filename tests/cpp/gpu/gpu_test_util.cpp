#include "gpu_test_util.h"

#include "common/compat.h"

namespace bnb::test {

bool gpu_synchronize() { return hipDeviceSynchronize() == hipSuccess; }

}  // namespace bnb::test
