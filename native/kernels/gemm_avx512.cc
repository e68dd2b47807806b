// x86-64 GEMM kernel for AVX-512F: a 12×32 micro-kernel (24 zmm accumulators, FMAs with embedded broadcasts of A)
// with its packing, run by the shared blocked driver. Batch ≤ 4 without transposed A goes to the AVX2 streaming paths
// (see sgemmAvx512). Compiled with function target attributes rather than -mavx512f so the same binary runs on CPUs
// without AVX-512; dispatch.cc calls sgemmAvx512 only after checking the CPU and the OS (XCR0).
#include "gemm_blocked.h"
#include "transpose_avx.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#if defined(__GNUC__) || defined(__clang__)
#define LRP_AVX512 __attribute__((target("avx512f,avx2,fma")))
#else
#define LRP_AVX512  // MSVC emits AVX-512 intrinsics without a compiler flag
#endif

// Tuning knobs, fixed for a build (the benchmark can override them to search).
#ifndef LRP_AVX512_MR
#define LRP_AVX512_MR 12
#endif
#ifndef LRP_AVX512_KC
#define LRP_AVX512_KC 256
#endif
#ifndef LRP_AVX512_MC
#define LRP_AVX512_MC 240
#endif
#ifndef LRP_AVX512_NC
#define LRP_AVX512_NC 4096
#endif

namespace lrp::kernels {

namespace {

// Where packB prefetches the next panel's source: L2, not L1. A 256×32 packed B panel is 32 KiB of Zen 5's 48 KiB L1,
// so fetching the next 32 KiB of source into L1 as well evicts it (T1 measured +7% NN, +10% NT at M = 128).
#define LRP_PACK_PREFETCH _MM_HINT_T1

constexpr int kMR = LRP_AVX512_MR, kNR = 32;

// The first n (0..16) lanes.
inline __mmask16 laneMask(int n) { return static_cast<__mmask16>(n >= 16 ? 0xFFFFu : (1u << std::max(n, 0)) - 1u); }

// ---- packing ----

LRP_AVX512 void packA(bool transA, const float* A, int lda, int rows, int depth, float* packed) {
  for (int i0 = 0; i0 < rows; i0 += kMR, packed += kMR * depth) {
    const int r = std::min(kMR, rows - i0);
    if (transA) {  // op(A)(i, k) = A[k·lda + i]: MR contiguous values per k, zero-padded by the masked load
      const __mmask16 mask = laneMask(r);
      for (int k = 0; k < depth; ++k) {
        const __m512 v = _mm512_maskz_loadu_ps(mask, A + static_cast<ptrdiff_t>(k) * lda + i0);
        _mm512_mask_storeu_ps(packed + k * kMR, laneMask(kMR), v);
      }
    } else {  // op(A)(i, k) = A[i·lda + k]: interleave MR rows
      const float* src[kMR];
      for (int i = 0; i < kMR; ++i) src[i] = A + static_cast<ptrdiff_t>(i0 + std::min(i, r - 1)) * lda;
      if (r == kMR) {
        for (int k = 0; k < depth; ++k)
          for (int i = 0; i < kMR; ++i) packed[k * kMR + i] = src[i][k];
      } else {
        for (int k = 0; k < depth; ++k)
          for (int i = 0; i < kMR; ++i) packed[k * kMR + i] = i < r ? src[i][k] : 0.f;
      }
    }
  }
}

using x86::transpose8x8;

LRP_AVX512 void packB(bool transB, const float* B, int ldb, int cols, int depth, float* packed) {
  const int panels = (cols + kNR - 1) / kNR;
  if (!transB) {  // op(B)(k, j) = B[k·ldb + j]: read B row by row, which the prefetchers stream well
    const int fullPanels = cols / kNR, rest = cols - fullPanels * kNR;
    const __mmask16 mask0 = laneMask(rest), mask1 = laneMask(rest - 16);
    for (int k = 0; k < depth; ++k) {
      const float* src = B + static_cast<ptrdiff_t>(k) * ldb;
      float* dst = packed + k * kNR;
      // A single panel is packed just before use (see sgemmBlocked): fetch the next panels' part of this row early.
      if (panels == 1) _mm_prefetch(reinterpret_cast<const char*>(src + 2 * kNR), LRP_PACK_PREFETCH);
      for (int p = 0; p < fullPanels; ++p) {
        _mm512_store_ps(dst, _mm512_loadu_ps(src));
        _mm512_store_ps(dst + 16, _mm512_loadu_ps(src + 16));
        src += kNR;
        dst += static_cast<ptrdiff_t>(kNR) * depth;
      }
      if (rest) {
        _mm512_store_ps(dst, _mm512_maskz_loadu_ps(mask0, src));
        _mm512_store_ps(dst + 16, _mm512_maskz_loadu_ps(mask1, src + 16));
      }
    }
    return;
  }
  // op(B)(k, j) = B[j·ldb + k]: transpose 8×8 blocks of B's rows into the panel.
  for (int p = 0; p < panels; ++p) {
    float* panel = packed + static_cast<ptrdiff_t>(p) * kNR * depth;
    for (int part = 0; part < kNR / 8; ++part) {
      const int j0 = p * kNR + part * 8;
      const int valid = std::max(0, std::min(8, cols - j0));
      const float* row[8];
      for (int r = 0; r < 8; ++r) row[r] = B + static_cast<ptrdiff_t>(j0 + std::min(r, std::max(valid - 1, 0))) * ldb;
      float* out = panel + part * 8;
      int k = 0;
      if (valid == 8) {
        for (; k + 8 <= depth; k += 8) {
          if (panels == 1)  // packed just before use (see sgemmBlocked): fetch the next panel's rows early
            for (int r = 0; r < 8; ++r)
              _mm_prefetch(reinterpret_cast<const char*>(row[r] + static_cast<ptrdiff_t>(kNR) * ldb + k), LRP_PACK_PREFETCH);
          transpose8x8(_mm256_loadu_ps(row[0] + k), _mm256_loadu_ps(row[1] + k), _mm256_loadu_ps(row[2] + k),
                       _mm256_loadu_ps(row[3] + k), _mm256_loadu_ps(row[4] + k), _mm256_loadu_ps(row[5] + k),
                       _mm256_loadu_ps(row[6] + k), _mm256_loadu_ps(row[7] + k), out + k * kNR, kNR);
        }
      }
      for (; k < depth; ++k)
        for (int r = 0; r < 8; ++r) out[k * kNR + r] = r < valid ? row[r][k] : 0.f;
    }
  }
}

// ---- the MR×32 micro-kernel: 2·MR zmm accumulators, 2 B loads and MR broadcast FMAs per k ----
// 32 zmm registers hold the 24 accumulators, the two B vectors and the broadcasts, so the intrinsic version compiles
// without spills (the broadcasts fold into the FMAs as {1to16} memory operands).

template <int MR>
LRP_AVX512 inline void step(const float* a, const float* b, __m512 (&c)[MR][2]) {
  const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
  for (int i = 0; i < MR; ++i) {
    const __m512 av = _mm512_set1_ps(a[i]);
    c[i][0] = _mm512_fmadd_ps(av, b0, c[i][0]);
    c[i][1] = _mm512_fmadd_ps(av, b1, c[i][1]);
  }
}

// R (≤ MR) rows of a tile: A panels keep their MR stride. Every accumulator is the same FMA chain over k whichever R
// computes it, so a row's result does not depend on the variant (edge tiles of 4 or 8 rows skip the padded rows).
template <int R>
LRP_AVX512 void kernelRows(int depth, const float* a, const float* b, float alpha, bool accumulate, float* C, int ldc,
                           int rows, int cols) {
  if (rows == R && cols == kNR && accumulate)
    for (int r = 0; r < R; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(C + static_cast<ptrdiff_t>(r) * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(C + static_cast<ptrdiff_t>(r) * ldc + 16), _MM_HINT_T0);
    }
  __m512 c[R][2];
  for (int i = 0; i < R; ++i) c[i][0] = c[i][1] = _mm512_setzero_ps();
  int k = 0;
  for (; k + 4 <= depth; k += 4) {
    _mm_prefetch(reinterpret_cast<const char*>(a + 8 * kMR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(a + 8 * kMR + 16), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(a + 8 * kMR + 32), _MM_HINT_T0);
    step<R>(a, b, c);
    step<R>(a + kMR, b + kNR, c);
    step<R>(a + 2 * kMR, b + 2 * kNR, c);
    step<R>(a + 3 * kMR, b + 3 * kNR, c);
    a += 4 * kMR;
    b += 4 * kNR;
  }
  for (; k < depth; ++k) {
    step<R>(a, b, c);
    a += kMR;
    b += kNR;
  }
  // C = alpha · acc, or C = fma(acc, alpha, C): the same operations for every element whatever rows and cols are (the
  // masks only choose which lanes are loaded and stored), and an explicit FMA so the compiler cannot contract
  // differently for full and edge tiles. Full-width rows use plain loads and stores (masked stores are slow on AMD).
  alignas(64) float acc[R][kNR];  // constant indices up to here keep c in registers
  for (int i = 0; i < R; ++i) {
    _mm512_store_ps(acc[i], c[i][0]);
    _mm512_store_ps(acc[i] + 16, c[i][1]);
  }
  const __m512 va = _mm512_set1_ps(alpha);
  if (cols == kNR) {
    for (int r = 0; r < rows; ++r) {
      float* cr = C + static_cast<ptrdiff_t>(r) * ldc;
      if (accumulate) {
        _mm512_storeu_ps(cr, _mm512_fmadd_ps(_mm512_load_ps(acc[r]), va, _mm512_loadu_ps(cr)));
        _mm512_storeu_ps(cr + 16, _mm512_fmadd_ps(_mm512_load_ps(acc[r] + 16), va, _mm512_loadu_ps(cr + 16)));
      } else {
        _mm512_storeu_ps(cr, _mm512_mul_ps(_mm512_load_ps(acc[r]), va));
        _mm512_storeu_ps(cr + 16, _mm512_mul_ps(_mm512_load_ps(acc[r] + 16), va));
      }
    }
    return;
  }
  const __mmask16 mask0 = laneMask(cols), mask1 = laneMask(cols - 16);
  for (int r = 0; r < rows; ++r) {
    float* cr = C + static_cast<ptrdiff_t>(r) * ldc;
    if (accumulate) {
      _mm512_mask_storeu_ps(cr, mask0, _mm512_fmadd_ps(_mm512_load_ps(acc[r]), va, _mm512_maskz_loadu_ps(mask0, cr)));
      _mm512_mask_storeu_ps(cr + 16, mask1,
                            _mm512_fmadd_ps(_mm512_load_ps(acc[r] + 16), va, _mm512_maskz_loadu_ps(mask1, cr + 16)));
    } else {
      _mm512_mask_storeu_ps(cr, mask0, _mm512_mul_ps(_mm512_load_ps(acc[r]), va));
      _mm512_mask_storeu_ps(cr + 16, mask1, _mm512_mul_ps(_mm512_load_ps(acc[r] + 16), va));
    }
  }
}

// Tiles at most 16 columns wide (4×4 feature maps at batch 1, a panel's last columns): the left half of the panel
// only, half the FMAs of kernelRows. Each element is the same FMA chain and final operation as there (same bits).
template <int R>
LRP_AVX512 void kernelRowsNarrow(int depth, const float* a, const float* b, float alpha, bool accumulate, float* C,
                                 int ldc, int rows, int cols) {
  __m512 c[R];
  for (int i = 0; i < R; ++i) c[i] = _mm512_setzero_ps();
  for (int k = 0; k < depth; ++k) {
    const __m512 b0 = _mm512_load_ps(b);
    for (int i = 0; i < R; ++i) c[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[i]), b0, c[i]);
    a += kMR;
    b += kNR;
  }
  alignas(64) float rowsOut[R][16];  // as in kernelRows: constant indices up to here keep c in registers
  for (int i = 0; i < R; ++i) _mm512_store_ps(rowsOut[i], c[i]);
  const __m512 va = _mm512_set1_ps(alpha);
  const __mmask16 mask = laneMask(cols);
  for (int r = 0; r < rows; ++r) {
    float* cr = C + static_cast<ptrdiff_t>(r) * ldc;
    const __m512 acc = _mm512_load_ps(rowsOut[r]);
    if (accumulate) _mm512_mask_storeu_ps(cr, mask, _mm512_fmadd_ps(acc, va, _mm512_maskz_loadu_ps(mask, cr)));
    else _mm512_mask_storeu_ps(cr, mask, _mm512_mul_ps(acc, va));
  }
}

LRP_AVX512 void kernel(int depth, const float* a, const float* b, float alpha, bool accumulate, float* C, int ldc,
                       int rows, int cols) {
  if (cols <= 16) {
    if (rows <= 4) kernelRowsNarrow<4>(depth, a, b, alpha, accumulate, C, ldc, rows, cols);
    else if (rows <= 8) kernelRowsNarrow<8>(depth, a, b, alpha, accumulate, C, ldc, rows, cols);
    else kernelRowsNarrow<kMR>(depth, a, b, alpha, accumulate, C, ldc, rows, cols);
    return;
  }
  if (rows <= 4) kernelRows<4>(depth, a, b, alpha, accumulate, C, ldc, rows, cols);
  else if (rows <= 8) kernelRows<8>(depth, a, b, alpha, accumulate, C, ldc, rows, cols);
  else kernelRows<kMR>(depth, a, b, alpha, accumulate, C, ldc, rows, cols);
}

// A convolution panel (see ConvPanelPlan): per row k and run, one or two loads of the valid lanes (plain when every
// lane is valid, zero-masked otherwise: masked-off lanes never fault; masked loads cost more here) and full-width
// stores. Rows two channels ahead are prefetched: successive k read rows too far apart for the hardware prefetchers.
LRP_AVX512 void packConv(const ConvPanelPlan& p, int k0, int depth, float* packed) {
  int c = k0 / p.taps, t = k0 % p.taps, column = t % p.kernelWidth;
  for (int k = 0; k < depth; ++k, packed += kNR) {
    const int64_t channel = int64_t(c) * p.plane;
    const int64_t* source = p.source + t * p.runs;
    const uint32_t* valid = p.valid + t * p.runs;
    const bool rowStart = column == 0;
    for (int r = 0; r < p.runs; ++r) {
      const float* src = p.image[r] + channel + source[r];
      float* dst = packed + p.offset[r];
      const __mmask16 low = static_cast<__mmask16>(valid[r]), high = static_cast<__mmask16>(valid[r] >> 16);
      _mm512_storeu_ps(dst, low == 0xFFFF ? _mm512_loadu_ps(src) : _mm512_maskz_loadu_ps(low, src));
      if (p.length[r] > 16) _mm512_storeu_ps(dst + 16, high == 0xFFFF ? _mm512_loadu_ps(src + 16) : _mm512_maskz_loadu_ps(high, src + 16));
      if (rowStart) {
        _mm_prefetch(reinterpret_cast<const char*>(src + 2 * p.plane), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(src + 2 * p.plane + p.length[r] - 1), _MM_HINT_T0);
      }
    }
    if (++column == p.kernelWidth) column = 0;
    if (++t == p.taps) {
      t = 0;
      ++c;
    }
  }
}

const GemmMicroKernel kAvx512Micro{kMR, kNR, LRP_AVX512_KC, LRP_AVX512_MC, LRP_AVX512_NC, packA, packB, kernel, packConv};

}  // namespace

const GemmMicroKernel& avx512MicroKernel() { return kAvx512Micro; }

void sgemmAvx512(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                 int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (!transA && M <= 4 && K > 0 && alpha != 0.f) {
    // Batch ≤ 4 streams the weights once: the AVX2 paths are shared (no AVX-512 versions yet; gemm_bench reports them).
    // The choice depends on M and transA only, never on N, which keeps splits of N bit-identical.
    sgemmAvx2(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  sgemmBlocked(kAvx512Micro, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace lrp::kernels

#undef LRP_PACK_PREFETCH

#endif
