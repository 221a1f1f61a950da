// AMX-INT8 path of the int8 GEMM (Sapphire Rapids and later). A 2 x 2 grid of
// 16 x 16 int32 accumulator tiles covers a 32 x 32 output block; per 64-byte K
// step it loads two A tiles (16 rows x 64 bytes, from zero-padded row-major A)
// and two B tiles (16 x 64 bytes of the [K/4][32][4] panel layout, stride 128)
// and issues four tdpbssd (signed x signed, so no correction term). The int32
// block goes through a 4 KiB scratch to the shared AVX-512 epilogue.
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <type_traits>

#include "../../common/dispatch.h"
#include "amx_tiles.h"
#include "int8_gemm.h"
#include "int8_gemm_simd.h"
#include "simd_avx512.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace bnb::cpu {
namespace {

using namespace avx512;

constexpr int kNR = 32;  // columns per panel (two 16-column B tiles)
constexpr int kMR = 32;  // rows per block (two 16-row A tiles)
constexpr int kKB = 64;  // bytes of K per tile step

// Panel of B rows [n0, n0 + 32) -> dst[k4][j][t] = B[n0 + j][4 k4 + t], zero padded.
void pack_panel(const Int8GemmArgs& a, int64_t n0, int64_t n_end, int64_t k4n, int8_t* dst) {
  pack_int8_panel32(a, n0, n_end, k4n, reinterpret_cast<uint32_t*>(dst), 0);
}

template <typename T>
void epilogue(const Int8GemmArgs& a, const int32_t* c, int64_t m0, int64_t rows, int64_t n0, int64_t n_end) {
  const __m512 kscale = _mm512_set1_ps(kInt8MmScale);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t m = m0 + r;
    for (int v = 0; v < 2; ++v) {
      const int64_t n = n0 + 16 * v;
      if (n >= n_end) break;
      const __mmask16 mask = first_n(n_end - n);
      const __m512i vi = _mm512_loadu_si512(c + r * kNR + 16 * v);
      if constexpr (std::is_same_v<T, int32_t>) {
        _mm512_mask_storeu_epi32(a.out_i32 + m * a.N + n, mask, vi);
      } else {
        const __m512 s = _mm512_mul_ps(_mm512_set1_ps(a.row_stats[m]), _mm512_maskz_loadu_ps(mask, a.col_stats + n));
        __m512 f = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(vi), s), kscale);
        if (a.bias) f = _mm512_add_ps(f, _mm512_maskz_loadu_ps(mask, a.bias + n));
        store16(static_cast<T*>(a.out) + m * a.N + n, f, mask);
      }
    }
  }
}

// Few rows (up to kSwapRows), K % 64 == 0, N % 32 == 0: the roles swap, C^T = B A^T,
// so B's rows are the row-major tile operand read in place (no packing of the big
// matrix) and A, packed as [K/4][Mpad][4], is the interleaved one. The 32 x 32
// int32 block of C^T is transposed through the scratch into the epilogue.
constexpr int64_t kSwapRows = 256;  // above this the packed A outgrows L2

template <typename T>
void run_swapped(const Int8GemmArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  static thread_local ScratchBuffer pbuf;
  const int64_t rows = m1 - m0;
  const int64_t mpad = (rows + 31) / 32 * 32;
  const int64_t k4n = a.K / 4;
  auto* ap = static_cast<uint32_t*>(pbuf.get(static_cast<size_t>(k4n * mpad * 4)));
  if (!ap) throw std::bad_alloc();
  std::memset(ap, 0, static_cast<size_t>(k4n * mpad * 4));
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* src = a.A + (m0 + r) * a.K;
    for (int64_t k4 = 0; k4 < k4n; ++k4) std::memcpy(&ap[k4 * mpad + r], src + 4 * k4, 4);
  }
  alignas(64) int32_t ct[32 * 32];
  alignas(64) int32_t c[32 * 32];
  const int64_t bstride = mpad * 4;
  amx::configure_tiles();
  for (int64_t nb = n0; nb < n1; nb += 32) {
    const int8_t* b0 = a.B + nb * a.K;
    const int8_t* b1 = b0 + 16 * a.K;
    for (int64_t mb = 0; mb < rows; mb += 32) {
      const uint8_t* pa = reinterpret_cast<const uint8_t*>(ap + mb);
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      _tile_zero(3);
      for (int64_t kb = 0; kb < a.K / kKB; ++kb) {
        _tile_loadd(4, b0 + kb * kKB, a.K);
        _tile_loadd(5, b1 + kb * kKB, a.K);
        _tile_loadd(6, pa + kb * 16 * bstride, bstride);
        _tile_loadd(7, pa + kb * 16 * bstride + 64, bstride);
        _tile_dpbssd(0, 4, 6);  // n 0-15  x m 0-15
        _tile_dpbssd(1, 4, 7);  // n 0-15  x m 16-31
        _tile_dpbssd(2, 5, 6);  // n 16-31 x m 0-15
        _tile_dpbssd(3, 5, 7);  // n 16-31 x m 16-31
      }
      _tile_stored(0, ct, 32 * 4);
      _tile_stored(1, ct + 16, 32 * 4);
      _tile_stored(2, ct + 16 * 32, 32 * 4);
      _tile_stored(3, ct + 16 * 32 + 16, 32 * 4);
      const __m512i col = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                             _mm512_set1_epi32(32));
      const int64_t mrows = std::min<int64_t>(32, rows - mb);
      for (int64_t m = 0; m < mrows; ++m) {  // c[m][n] = ct[n][m]
        const __m512i idx = _mm512_add_epi32(col, _mm512_set1_epi32(static_cast<int>(m)));
        _mm512_store_si512(c + m * 32, _mm512_i32gather_epi32(idx, ct, 4));
        _mm512_store_si512(c + m * 32 + 16, _mm512_i32gather_epi32(idx, ct + 16 * 32, 4));
      }
      epilogue<T>(a, c, m0 + mb, mrows, nb, nb + 32);
    }
  }
  _tile_release();
}

template <typename T>
void run(const Int8GemmArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  if (m1 - m0 <= kSwapRows && a.K % kKB == 0 && (n1 - n0) % 32 == 0 && a.K < (int64_t{1} << 30)) {
    run_swapped<T>(a, m0, m1, n0, n1);
    return;
  }
  static thread_local ScratchBuffer bbuf, abuf;
  const int64_t kpad = (a.K + kKB - 1) / kKB * kKB;
  const int64_t k4n = kpad / 4;
  const int64_t panel_bytes = k4n * kNR * 4;
  const int64_t panels = (n1 - n0 + kNR - 1) / kNR;
  auto* bp = static_cast<int8_t*>(bbuf.get(static_cast<size_t>(panels * panel_bytes)));
  if (!bp) throw std::bad_alloc();
  for (int64_t p = 0; p < panels; ++p) pack_panel(a, n0 + p * kNR, n1, k4n, bp + p * panel_bytes);

  // A rows padded to a stride that is not a multiple of 4 KiB: 16 rows of a tile
  // would otherwise fall into the same L1 set.
  const int64_t lda = kpad + 64;
  const int64_t mc = int8_gemm_block_rows(lda, kMR);
  auto* ap = static_cast<int8_t*>(abuf.get(static_cast<size_t>(mc * lda)));
  if (!ap) throw std::bad_alloc();
  alignas(64) int32_t c[kMR * kNR];

  amx::configure_tiles();
  for (int64_t mb = m0; mb < m1; mb += mc) {
    const int64_t rows = std::min(mc, m1 - mb);
    const int64_t rows_pad = (rows + kMR - 1) / kMR * kMR;
    for (int64_t r = 0; r < rows_pad; ++r) {
      int8_t* d = ap + r * lda;
      if (r < rows) {
        std::memcpy(d, a.A + (mb + r) * a.K, static_cast<size_t>(a.K));
        std::memset(d + a.K, 0, static_cast<size_t>(lda - a.K));
      } else {
        std::memset(d, 0, static_cast<size_t>(lda));
      }
    }
    for (int64_t p = 0; p < panels; ++p) {
      const int8_t* panel = bp + p * panel_bytes;
      const int64_t pn = n0 + p * kNR;
      const int64_t pn_end = std::min(pn + kNR, n1);
      for (int64_t r = 0; r < rows; r += kMR) {
        const int8_t* a0 = ap + r * lda;
        const int8_t* a1 = a0 + 16 * lda;
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int64_t kb = 0; kb < kpad / kKB; ++kb) {
          _tile_loadd(4, a0 + kb * kKB, lda);
          _tile_loadd(5, a1 + kb * kKB, lda);
          _tile_loadd(6, panel + kb * 16 * 128, 128);
          _tile_loadd(7, panel + kb * 16 * 128 + 64, 128);
          _tile_dpbssd(0, 4, 6);
          _tile_dpbssd(1, 4, 7);
          _tile_dpbssd(2, 5, 6);
          _tile_dpbssd(3, 5, 7);
        }
        _tile_stored(0, c, kNR * 4);
        _tile_stored(1, c + 16, kNR * 4);
        _tile_stored(2, c + 16 * kNR, kNR * 4);
        _tile_stored(3, c + 16 * kNR + 16, kNR * 4);
        epilogue<T>(a, c, mb + r, std::min<int64_t>(kMR, rows - r), pn, pn_end);
      }
    }
  }
  _tile_release();
}

bool detect_amx() {
#if defined(__x86_64__)
  unsigned int a, b, c, d;
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, 0, a, b, c, d);
  const bool tile = d & (1u << 24), int8 = d & (1u << 25);
  if (!tile || !int8) return false;
  // Linux hands out the 8 KiB tile state only on request (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA).
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

}  // namespace

bool int8_amx_available() {
  static const bool ok = detect_amx();
  return ok;
}

void int8_gemm_amx(const Int8GemmArgs& a, int64_t m_begin, int64_t m_end, int64_t n_begin, int64_t n_end) {
  int8_gemm_entry(a, m_begin, m_end, n_begin, n_end,
                  [&](auto t) { run<typename decltype(t)::type>(a, m_begin, m_end, n_begin, n_end); });
}

}  // namespace bnb::cpu
