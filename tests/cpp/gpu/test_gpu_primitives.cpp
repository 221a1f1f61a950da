// The device helpers of csrc/cuda/kernels/common.cuh on the HIP CPU runtime
// (64-lane wavefronts, and no CUB: the fallback block reduction): group
// shuffles of every width up to 32, block reductions (twice in a row, NaN
// propagation), and the Eytzinger search against a linear count.
#include <algorithm>
#include <cmath>

#include "cuda/kernels/common.cuh"
#include "gpu_test_util.h"

using namespace bnb;
using namespace bnb::gpu;

namespace {

struct IntSum {
  __device__ int operator()(int a, int b) const { return a + b; }
};

template <int kWidth>
__global__ void group_sum_kernel(const int* in, int* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  out[i] = group_allreduce<kWidth>(in[i], IntSum{});
}

template <int kBlock>
__global__ void block_reduce_kernel(const float* in, float* max_out, float* sum_out) {
  const int i = blockIdx.x * kBlock + threadIdx.x;
  const float m = block_allreduce<kBlock>(in[i], NanMaxOp{});
  const float s = block_allreduce<kBlock>(in[i], SumOp{});  // the shared storage reused at once
  max_out[i] = m;
  sum_out[i] = s;
}

template <int kWidth>
void check_group_sum() {
  const int blocks = 3, threads = 256, n = blocks * threads;
  std::vector<int> in(n), out(n, -1);
  for (int i = 0; i < n; ++i) in[i] = i * 7 % 101;
  test::run_gpu([&](void* stream) {
    launch(group_sum_kernel<kWidth>, blocks, threads, 0, static_cast<gpuStream_t>(stream), in.data(), out.data());
    return launch_status();
  });
  for (int i = 0; i < n; ++i) {
    int expected = 0;
    for (int j = i / kWidth * kWidth; j < (i / kWidth + 1) * kWidth; ++j) expected += in[j];
    INFO("width " << kWidth << " thread " << i);
    REQUIRE(out[i] == expected);
  }
}

template <int kBlock>
void check_block_reduce(bool with_nan) {
  const int blocks = 3, n = blocks * kBlock;
  std::vector<float> in(n), mx(n), sm(n);
  for (int i = 0; i < n; ++i) in[i] = static_cast<float>(i % 13) - 3.0f;  // small integers: exact sums
  if (with_nan) in[kBlock + 5] = NAN;                                     // block 1
  test::run_gpu([&](void* stream) {
    launch(block_reduce_kernel<kBlock>, blocks, kBlock, 0, static_cast<gpuStream_t>(stream), in.data(), mx.data(),
           sm.data());
    return launch_status();
  });
  for (int b = 0; b < blocks; ++b) {
    float m = -INFINITY, s = 0.0f;
    for (int i = b * kBlock; i < (b + 1) * kBlock; ++i) m = std::max(m, in[i]), s += in[i];
    for (int i = b * kBlock; i < (b + 1) * kBlock; ++i) {
      INFO("block size " << kBlock << " block " << b);
      if (with_nan && b == 1) {
        REQUIRE(std::isnan(mx[i]));
        REQUIRE(std::isnan(sm[i]));
      } else {
        REQUIRE(mx[i] == m);
        REQUIRE(sm[i] == s);
      }
    }
  }
}

template <int kLevels, bool kNanHigh>
void check_eytzinger(uint32_t seed) {
  constexpr int kKeys = (1 << kLevels) - 1;
  std::vector<float> keys = test::test_values(kKeys, seed, false);
  keys[3] = keys[4];  // a repeated key
  std::sort(keys.begin(), keys.end());
  std::vector<float> tree(kKeys + 1);
  for (int i = 1; i <= kKeys; ++i) tree[i] = keys[eytzinger_source<kLevels>(i)];
  std::vector<float> xs = test::test_values(2000, seed + 1, false);
  xs.insert(xs.end(), keys.begin(), keys.end());  // every key exactly
  xs.push_back(NAN);
  xs.push_back(INFINITY);
  xs.push_back(-INFINITY);
  for (float x : xs) {
    int expected = 0;
    for (float k : keys) expected += kNanHigh ? !(x <= k) : (k < x);
    INFO("levels " << kLevels << " x " << x);
    REQUIRE(eytzinger_rank<kLevels, kNanHigh>(tree.data(), x) == expected);
  }
}

}  // namespace

TEST_CASE("GPU helpers: group shuffles of every width at 64-lane wavefronts", "[gpu][primitives]") {
  check_group_sum<2>();
  check_group_sum<4>();
  check_group_sum<8>();
  check_group_sum<16>();
  check_group_sum<32>();
}

TEST_CASE("GPU helpers: block reductions (the fallback without CUB)", "[gpu][primitives]") {
  for (bool nan : {false, true}) {
    check_block_reduce<64>(nan);
    check_block_reduce<256>(nan);
    check_block_reduce<512>(nan);
  }
}

TEST_CASE("GPU helpers: the Eytzinger search counts the keys below a value", "[gpu][primitives]") {
  check_eytzinger<4, true>(1);
  check_eytzinger<4, false>(2);
  check_eytzinger<8, false>(3);
  check_eytzinger<8, true>(4);
}
