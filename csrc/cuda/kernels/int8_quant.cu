// GPU LLM.int8() quantization and rescaling. Same arithmetic, in the same
// order, as the CPU kernels (docs/formats.md).
//  - row_pass_kernel: one block per row, 8 elements per thread and step: the
//    row absmax (block reduction), then the row codes (outliers zeroed) and, for
//    double quant, the column codes in the same pass (the row's second read comes
//    from the cache); with a threshold it also stores a 1 for each column where it
//    meets an outlier. So int8_vectorwise_quant reads A from memory once.
//  - zero_outlier_cols_kernel (a threshold, more than one row): zeroes the flagged
//    columns of the row codes (a thread per column; unflagged columns return at
//    once), which only the finished flags of every row can tell.
//  - col_stats_kernel (double quant): the column absmax in one read of A before the
//    row pass, parallel over rows: 256-thread blocks of 32 column groups (8 columns
//    each, one 16-byte load for fp16/bf16) x 8 row lanes, each block a tile of 256
//    columns and a slab of rows; partial results meet in shared memory, then in
//    global memory (atomicMax of the absmax bits, which order like the values
//    since they are >= 0).
//  - the element-wise rescales (int8_vectorwise_dequant, int8_mm_dequant, the
//    latter after the vendor int8 GEMM): 1024-column chunks of a row per block,
//    4 columns per thread, 16-byte accesses.
//  - the 16-bit outlier product of int8_mixed_scaled_mm for a column mask: one
//    block compacts the mask into column indices and their count on the device,
//    then 64 x 64 output tiles loop over that count (16 columns per step through
//    shared memory; a tile returns at once when there are none), so nothing is
//    read back to the host and the launch shape does not depend on the data.
#include "common.cuh"
#include "int8_launchers.h"

namespace bnb::gpu {
namespace {

__device__ inline bool is_outlier(float v, float threshold) { return threshold > 0.0f && fabsf(v) >= threshold; }
__device__ inline float nan_max(float m, float v) { return (v > m || v != v) ? v : m; }
__device__ inline int8_t int8_round(float v) {
  if (v != v) return 0;
  float r = rintf(v);
  r = r > 127.0f ? 127.0f : (r < -128.0f ? -128.0f : r);
  return static_cast<int8_t>(r);
}

constexpr int kVec = 8;         // consecutive columns per thread
constexpr int kColGroups = 32;  // column groups of a col_pass block
constexpr int kRowLanes = kThreads / kColGroups;

// kVec elements of row[c0 ...] (zero past cols) as fp32.
template <typename T, bool kAligned>
__device__ inline void load_cols(const T* __restrict__ row, int64_t c0, int64_t cols, float (&v)[kVec]) {
  if (kAligned && c0 + kVec <= cols) {
    load_vec<kVec>(row + c0, v);
  } else {
#pragma unroll
    for (int j = 0; j < kVec; ++j) v[j] = c0 + j < cols ? to_float(row[c0 + j]) : 0.0f;
  }
}

// col_stats (zeroed): the max |x| of each column's non-outliers (NaN propagates).
template <typename T, bool kAligned>
__global__ void __launch_bounds__(kThreads) col_stats_kernel(const T* __restrict__ x, int64_t rows, int64_t cols,
                                                             float threshold, float* __restrict__ col_stats) {
  __shared__ float smax[kRowLanes][kColGroups * kVec];
  const int group = threadIdx.x % kColGroups, lane = threadIdx.x / kColGroups;
  const int64_t c0 = (static_cast<int64_t>(blockIdx.x) * kColGroups + group) * kVec;
  float m[kVec] = {};
  for (int64_t r = static_cast<int64_t>(blockIdx.y) * kRowLanes + lane; r < rows;
       r += static_cast<int64_t>(gridDim.y) * kRowLanes) {
    float v[kVec];
    load_cols<T, kAligned>(x + r * cols, c0, cols, v);
#pragma unroll
    for (int j = 0; j < kVec; ++j)
      if (!is_outlier(v[j], threshold)) m[j] = nan_max(m[j], fabsf(v[j]));
  }
#pragma unroll
  for (int j = 0; j < kVec; ++j) smax[lane][group * kVec + j] = m[j];
  __syncthreads();
  // one thread per column of the tile combines the row lanes (kThreads == kColGroups * kVec)
  const int t = threadIdx.x;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColGroups * kVec + t;
  if (c >= cols) return;
  float mc = smax[0][t];
  for (int l = 1; l < kRowLanes; ++l) mc = nan_max(mc, smax[l][t]);
  atomicMax(reinterpret_cast<unsigned int*>(col_stats) + c, f32_bits(mc));
}

// One block per row: row_q / row_stats, with kColQ col_q from the finished col_stats, and a 1 in flags (zeroed,
// or null) for each column of an outlier.
template <typename T, bool kAligned, bool kColQ>
__global__ void __launch_bounds__(kThreads) row_pass_kernel(const Int8QuantArgs a, uint8_t* __restrict__ flags) {
  const int64_t r = blockIdx.x;
  const T* row = static_cast<const T*>(a.input) + r * a.cols;
  float m = 0.0f;
  for (int64_t c0 = static_cast<int64_t>(threadIdx.x) * kVec; c0 < a.cols; c0 += kThreads * kVec) {
    float v[kVec];
    load_cols<T, kAligned>(row, c0, a.cols, v);
#pragma unroll
    for (int j = 0; j < kVec; ++j)
      if (!is_outlier(v[j], a.threshold)) m = nan_max(m, fabsf(v[j]));
  }
  m = block_allreduce<kThreads>(m, NanMaxOp{});
  if (threadIdx.x == 0) a.row_stats[r] = m;
  // torch evaluates the reference's 127.0 / row_stats as 127 * (1 / row_stats): two roundings
  const float scale = 127.0f * (1.0f / m);
  for (int64_t c0 = static_cast<int64_t>(threadIdx.x) * kVec; c0 < a.cols; c0 += kThreads * kVec) {
    float v[kVec];
    load_cols<T, kAligned>(row, c0, a.cols, v);
    uint8_t qr[kVec], qc[kVec];
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      const bool outlier = is_outlier(v[j], a.threshold);  // never past the end (v is 0 there)
      if (outlier && flags != nullptr) flags[c0 + j] = 1;  // rows race to store the same value
      qr[j] = static_cast<uint8_t>(outlier ? int8_t{0} : int8_round(v[j] * scale));
      if constexpr (kColQ) {
        // x * 127 is rounded to the input dtype first, as the reference's A.mul(127.0) is
        const float cs = c0 + j < a.cols ? a.col_stats[c0 + j] : 1.0f;
        qc[j] = static_cast<uint8_t>(outlier ? int8_t{0} : int8_round(to_float(from_float<T>(v[j] * 127.0f)) / cs));
      }
    }
    const int64_t o = r * a.cols + c0;
    if (kAligned && c0 + kVec <= a.cols) {
      store_bytes<kVec>(reinterpret_cast<uint8_t*>(a.row_q) + o, qr);
      if constexpr (kColQ) store_bytes<kVec>(reinterpret_cast<uint8_t*>(a.col_q) + o, qc);
    } else {
      for (int j = 0; j < kVec && c0 + j < a.cols; ++j) {
        a.row_q[o + j] = static_cast<int8_t>(qr[j]);
        if constexpr (kColQ) a.col_q[o + j] = static_cast<int8_t>(qc[j]);
      }
    }
  }
}

// row_q[:, c] = 0 for every flagged column c: a thread per column, the rows strided over the grid's y.
__global__ void __launch_bounds__(kThreads) zero_outlier_cols_kernel(const uint8_t* __restrict__ flags, int64_t rows,
                                                                     int64_t cols, int8_t* __restrict__ row_q) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (c >= cols || flags[c] == 0) return;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) row_q[r * cols + c] = 0;
}

// The element-wise rescales go through rows in chunks of kRowChunk columns, a
// chunk per thread block and 4 consecutive columns per thread: the row and the
// column come from one division per block (not a 64-bit division per element),
// and rows whose width is a multiple of 4 move in 16-byte loads and stores.
constexpr int64_t kRowChunk = 4 * kThreads;

template <typename In, typename Out, typename Op>
__device__ inline void for_row_chunks(const In* __restrict__ in, int64_t rows, int64_t cols, bool vec,
                                      Out* __restrict__ out, Op op) {
  const int64_t chunks = (cols + kRowChunk - 1) / kRowChunk;
  for (int64_t b = blockIdx.x; b < rows * chunks; b += gridDim.x) {
    const int64_t r = b / chunks, c = b % chunks * kRowChunk + 4 * static_cast<int64_t>(threadIdx.x);
    if (c >= cols) continue;
    const In* src = in + r * cols + c;
    Out* dst = out + r * cols + c;
    float v[4];
    if (vec) {
      if constexpr (sizeof(In) == 4) {
        const int4 q = *reinterpret_cast<const int4*>(src);
        v[0] = op(r, c, static_cast<float>(q.x)), v[1] = op(r, c + 1, static_cast<float>(q.y));
        v[2] = op(r, c + 2, static_cast<float>(q.z)), v[3] = op(r, c + 3, static_cast<float>(q.w));
      } else {
        const char4 q = *reinterpret_cast<const char4*>(src);
        v[0] = op(r, c, static_cast<float>(q.x)), v[1] = op(r, c + 1, static_cast<float>(q.y));
        v[2] = op(r, c + 2, static_cast<float>(q.z)), v[3] = op(r, c + 3, static_cast<float>(q.w));
      }
      store_vec<4>(dst, v);
    } else {
      for (int j = 0; j < 4 && c + j < cols; ++j) dst[j] = from_float<Out>(op(r, c + j, static_cast<float>(src[j])));
    }
  }
}

// vec: cols % 4 == 0 and both tensors 16-byte aligned (launch_rescale).
__global__ void __launch_bounds__(kThreads)
    vectorwise_dequant_kernel(const int8_t* __restrict__ in, const float* __restrict__ stats, int64_t rows,
                              int64_t cols, bool vec, float* __restrict__ out) {
  for_row_chunks(in, rows, cols, vec, out,
                 [&](int64_t r, int64_t, float q) { return q * stats[r] * kInt8DequantScale; });
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    mm_dequant_kernel(const int32_t* __restrict__ in, int64_t rows, int64_t cols, bool vec,
                      const float* __restrict__ row_stats, const float* __restrict__ col_stats,
                      const float* __restrict__ bias, T* __restrict__ out) {
  for_row_chunks(in, rows, cols, vec, out, [&](int64_t r, int64_t c, float q) {
    const float v = q * (row_stats[r] * col_stats[c]) * kInt8MmScale;
    return bias != nullptr ? v + bias[c] : v;
  });
}

// Blocks for rows x cols in row chunks; whether the 16-byte path applies.
inline unsigned int rescale_grid(int64_t rows, int64_t cols) {
  return grid_for(rows * ((cols + kRowChunk - 1) / kRowChunk) * kThreads);
}
inline bool rescale_vec(const void* in, const void* out, int64_t cols) {
  return cols % 4 == 0 && aligned(in, 16) && aligned(out, 16);
}

constexpr int kOutTile = 64;  // outputs per tile side (256 threads, 4 x 4 each)
constexpr int kOutStep = 16;  // outlier columns per shared-memory step
constexpr int kCompactPer = 16;

// work[0 .. count) = the indices of the nonzero mask entries (ascending), work[K] = count.
__global__ void __launch_bounds__(kThreads)
    compact_mask_kernel(const uint8_t* __restrict__ mask, int64_t K, int32_t* __restrict__ work) {
  __shared__ int scan[kThreads];
  int base = 0;
  for (int64_t k0 = 0; k0 < K; k0 += kThreads * kCompactPer) {  // the same trip count for every thread
    const int64_t k = k0 + static_cast<int64_t>(threadIdx.x) * kCompactPer;
    int c = 0;
    for (int j = 0; j < kCompactPer; ++j) c += k + j < K && mask[k + j] != 0;
    scan[threadIdx.x] = c;
    __syncthreads();
    for (int off = 1; off < kThreads; off <<= 1) {  // inclusive prefix sum
      const int v = static_cast<int>(threadIdx.x) >= off ? scan[threadIdx.x - off] : 0;
      __syncthreads();
      scan[threadIdx.x] += v;
      __syncthreads();
    }
    int pos = base + scan[threadIdx.x] - c;
    for (int j = 0; j < kCompactPer; ++j)
      if (k + j < K && mask[k + j] != 0) work[pos++] = static_cast<int32_t>(k + j);
    base += scan[kThreads - 1];
    __syncthreads();
  }
  if (threadIdx.x == 0) work[K] = base;
}

template <typename T>
__global__ void __launch_bounds__(kThreads) outlier_mm_kernel(const Int8OutlierMmArgs a) {
  const int count = a.work[a.K];
  if (count == 0) return;  // the same for the whole block
  __shared__ float As[kOutStep][kOutTile + 1];
  __shared__ float Ws[kOutStep][kOutTile + 1];
  const T* A = static_cast<const T*>(a.A);
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kOutTile, n0 = static_cast<int64_t>(blockIdx.x) * kOutTile;
  float acc[4][4] = {};
  for (int j0 = 0; j0 < count; j0 += kOutStep) {
    for (int e = threadIdx.x; e < kOutTile * kOutStep; e += kThreads) {
      const int r = e / kOutStep, j = e % kOutStep;
      const bool live = j0 + j < count;
      const int64_t col = live ? a.work[j0 + j] : 0, m = m0 + r, n = n0 + r;
      As[j][r] = live && m < a.M ? to_float(A[m * a.K + col]) : 0.0f;
      Ws[j][r] = live && n < a.N
                     ? to_float(from_float<T>(static_cast<float>(a.CB[n * a.K + col]) * a.SCB[n] * kInt8DequantScale))
                     : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int j = 0; j < kOutStep; ++j) {
      float av[4], wv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) av[i] = As[j][ty * 4 + i], wv[i] = Ws[j][tx * 4 + i];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int l = 0; l < 4; ++l) acc[i][l] += av[i] * wv[l];
    }
    __syncthreads();
  }
  T* out = static_cast<T*>(a.out);
  for (int i = 0; i < 4; ++i) {
    const int64_t m = m0 + ty * 4 + i;
    for (int l = 0; l < 4; ++l) {
      const int64_t n = n0 + tx * 4 + l;
      if (m < a.M && n < a.N) out[m * a.N + n] = from_float<T>(to_float(out[m * a.N + n]) + acc[i][l]);
    }
  }
}

}  // namespace

const char* launch_int8_quant(const Int8QuantArgs& a, uint8_t* flags, void* stream) {
  if (a.rows == 0 || a.cols == 0) return nullptr;
  if (a.rows > 0x7FFFFFFF) return "too many rows for one launch";
  const gpuStream_t s = static_cast<gpuStream_t>(stream);
  gpuError_t e = gpuSuccess;
  if (flags != nullptr) e = gpuMemsetAsync(flags, 0, static_cast<size_t>(a.cols), s);
  if (e == gpuSuccess && a.col_stats != nullptr)
    e = gpuMemsetAsync(a.col_stats, 0, static_cast<size_t>(a.cols) * sizeof(float), s);
  if (e != gpuSuccess) return gpuGetErrorString(e);
  // 16-byte loads and 8-byte stores, every row starting aligned
  const int64_t elem = a.dtype == DType::kF32 ? 4 : 2;
  const bool vec = a.cols % kVec == 0 && (a.cols * elem) % 16 == 0 && aligned(a.input, 16) && aligned(a.row_q, 8) &&
                   (a.col_q == nullptr || aligned(a.col_q, 8));
  // the column kernels: tiles of 256 columns x enough row slabs for ~8 blocks per multiprocessor
  const int64_t tiles = (a.cols + kThreads - 1) / kThreads;
  const auto col_grid = [&](int64_t rows_per_block) {
    const int64_t slabs = (a.rows + rows_per_block - 1) / rows_per_block;
    int64_t want = (static_cast<int64_t>(sm_count()) * 8 + tiles - 1) / tiles;
    want = want < slabs ? want : slabs;
    return dim3(static_cast<unsigned int>(tiles), static_cast<unsigned int>(want < 65535 ? want : 65535));
  };
  static_assert(kColGroups * kVec == kThreads, "a column tile is 256 columns");
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const auto run = [&](auto aligned_tag) {
      constexpr bool kAligned = decltype(aligned_tag)::value;
      if (a.col_q != nullptr) {
        launch(col_stats_kernel<T, kAligned>, col_grid(kRowLanes), kThreads, 0, s, static_cast<const T*>(a.input),
               a.rows, a.cols, a.threshold, a.col_stats);
        launch(row_pass_kernel<T, kAligned, true>, static_cast<unsigned int>(a.rows), kThreads, 0, s, a, flags);
      } else {
        launch(row_pass_kernel<T, kAligned, false>, static_cast<unsigned int>(a.rows), kThreads, 0, s, a, flags);
      }
    };
    if (vec)
      run(std::true_type{});
    else
      run(std::false_type{});
  });
  if (flags != nullptr && a.rows > 1)
    launch(zero_outlier_cols_kernel, col_grid(1), kThreads, 0, s, flags, a.rows, a.cols, a.row_q);
  return launch_status();
}

const char* launch_int8_vectorwise_dequant(const Int8VectorDequantArgs& a, void* stream) {
  if (a.rows * a.cols == 0) return nullptr;
  launch(vectorwise_dequant_kernel, rescale_grid(a.rows, a.cols), kThreads, 0, static_cast<gpuStream_t>(stream), a.in,
         a.stats, a.rows, a.cols, rescale_vec(a.in, a.out, a.cols), a.out);
  return launch_status();
}

const char* launch_int8_mm_dequant(const Int8MmDequantArgs& a, void* stream) {
  if (a.rows * a.cols == 0) return nullptr;
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(mm_dequant_kernel<T>, rescale_grid(a.rows, a.cols), kThreads, 0, static_cast<gpuStream_t>(stream), a.in,
           a.rows, a.cols, rescale_vec(a.in, a.out, a.cols), a.row_stats, a.col_stats, a.bias, static_cast<T*>(a.out));
  });
  return launch_status();
}

const char* launch_int8_outlier_mm(const Int8OutlierMmArgs& a, void* stream) {
  if (a.M == 0 || a.N == 0) return nullptr;
  const int64_t gy = (a.M + kOutTile - 1) / kOutTile, gx = (a.N + kOutTile - 1) / kOutTile;
  if (gy > 65535 || gx > 0x7FFFFFFF) return "matrix too large for one launch";
  const gpuStream_t s = static_cast<gpuStream_t>(stream);
  launch(compact_mask_kernel, 1, kThreads, 0, s, a.mask, a.K, a.work);
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(outlier_mm_kernel<T>, dim3(static_cast<unsigned int>(gx), static_cast<unsigned int>(gy)), kThreads, 0, s, a);
  });
  return launch_status();
}

}  // namespace bnb::gpu
