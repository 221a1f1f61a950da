// Scalar LLM.int8() quantization and rescaling kernels. They are memory bound
// and simple enough that the compiler vectorizes the inner loops.
#include "int8_quant.h"

#include <algorithm>

#include "../../common/dispatch.h"
#include "cpu_features.h"

namespace bnb::cpu {
namespace {

inline bool is_outlier(float v, float threshold) { return threshold > 0.0f && std::fabs(v) >= threshold; }

// max with NaN propagation, as torch's max()
inline float nan_max(float m, float v) { return (v > m || v != v) ? v : m; }

template <typename T>
void find_outliers(const Int8QuantArgs& a, uint8_t* flags, int64_t c0, int64_t c1) {
  const T* x = static_cast<const T*>(a.input);
  for (int64_t c = c0; c < c1; ++c) flags[c] = 0;
  for (int64_t r = 0; r < a.rows; ++r) {
    const T* row = x + r * a.cols;
    for (int64_t c = c0; c < c1; ++c) flags[c] |= static_cast<uint8_t>(std::fabs(to_f32(row[c])) >= a.threshold);
  }
}

template <typename T>
void quant_rows(const Int8QuantArgs& a, int64_t r0, int64_t r1) {
  const T* x = static_cast<const T*>(a.input);
  const bool zero_cols = a.outlier_cols != nullptr && a.rows > 1;
  for (int64_t r = r0; r < r1; ++r) {
    const T* row = x + r * a.cols;
    int8_t* q = a.row_q + r * a.cols;
    float amax = 0.0f;
    for (int64_t c = 0; c < a.cols; ++c) {
      const float v = to_f32(row[c]);
      if (!is_outlier(v, a.threshold)) amax = nan_max(amax, std::fabs(v));
    }
    a.row_stats[r] = amax;
    // torch evaluates the reference's 127.0 / row_stats as 127 * (1 / row_stats): two roundings
    const float scale = 127.0f * (1.0f / amax);
    for (int64_t c = 0; c < a.cols; ++c) {
      const float v = to_f32(row[c]);
      q[c] = is_outlier(v, a.threshold) ? int8_t{0} : int8_round(v * scale);
    }
    if (zero_cols)
      for (int64_t c = 0; c < a.cols; ++c)
        if (a.outlier_cols[c]) q[c] = 0;
  }
}

template <typename T>
void quant_cols(const Int8QuantArgs& a, int64_t c0, int64_t c1) {
  const T* x = static_cast<const T*>(a.input);
  for (int64_t c = c0; c < c1; ++c) a.col_stats[c] = 0.0f;
  for (int64_t r = 0; r < a.rows; ++r) {
    const T* row = x + r * a.cols;
    for (int64_t c = c0; c < c1; ++c) {
      const float v = to_f32(row[c]);
      if (!is_outlier(v, a.threshold)) a.col_stats[c] = nan_max(a.col_stats[c], std::fabs(v));
    }
  }
  for (int64_t r = 0; r < a.rows; ++r) {
    const T* row = x + r * a.cols;
    int8_t* q = a.col_q + r * a.cols;
    for (int64_t c = c0; c < c1; ++c) {
      const float v = to_f32(row[c]);
      // x * 127 is rounded to the input dtype first, as the reference's A.mul(127.0) is
      q[c] = is_outlier(v, a.threshold) ? int8_t{0} : int8_round(to_f32(from_f32<T>(v * 127.0f)) / a.col_stats[c]);
    }
  }
}

template <typename T>
void mm_dequant_rows(const Int8MmDequantArgs& a, int64_t r0, int64_t r1) {
  T* out = static_cast<T*>(a.out);
  for (int64_t r = r0; r < r1; ++r) {
    const float rs = a.row_stats[r];
    const int32_t* in = a.in + r * a.cols;
    T* o = out + r * a.cols;
    for (int64_t c = 0; c < a.cols; ++c) {
      float v = static_cast<float>(in[c]) * (rs * a.col_stats[c]) * kInt8MmScale;
      if (a.bias) v = v + a.bias[c];
      o[c] = from_f32<T>(v);
    }
  }
}

}  // namespace

void int8_find_outlier_cols(const Int8QuantArgs& a, uint8_t* flags, int64_t col_begin, int64_t col_end) {
  dispatch_dtype(a.dtype, [&](auto tag) { find_outliers<typename decltype(tag)::type>(a, flags, col_begin, col_end); });
}

void int8_quant_rows_scalar(const Int8QuantArgs& a, int64_t row_begin, int64_t row_end) {
  dispatch_dtype(a.dtype, [&](auto tag) { quant_rows<typename decltype(tag)::type>(a, row_begin, row_end); });
}

void int8_quant_rows(const Int8QuantArgs& a, int64_t row_begin, int64_t row_end) {
  using Fn = void (*)(const Int8QuantArgs&, int64_t, int64_t);
#if defined(BNB_HAVE_X86_KERNELS)
  select_kernel<Fn>(int8_quant_rows_scalar, nullptr, int8_quant_rows_avx512)(a, row_begin, row_end);
#else
  int8_quant_rows_scalar(a, row_begin, row_end);
#endif
}

void int8_quant_cols(const Int8QuantArgs& a, int64_t col_begin, int64_t col_end) {
  dispatch_dtype(a.dtype, [&](auto tag) { quant_cols<typename decltype(tag)::type>(a, col_begin, col_end); });
}

void int8_vectorwise_dequant(const Int8VectorDequantArgs& a, int64_t row_begin, int64_t row_end) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float s = a.stats[r];
    const int8_t* in = a.in + r * a.cols;
    float* o = a.out + r * a.cols;
    for (int64_t c = 0; c < a.cols; ++c) o[c] = static_cast<float>(in[c]) * s * kInt8DequantScale;
  }
}

void int8_mm_dequant(const Int8MmDequantArgs& a, int64_t row_begin, int64_t row_end) {
  dispatch_dtype(a.dtype, [&](auto tag) { mm_dequant_rows<typename decltype(tag)::type>(a, row_begin, row_end); });
}

}  // namespace bnb::cpu
