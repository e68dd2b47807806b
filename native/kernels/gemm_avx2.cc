// x86-64 GEMM kernels for AVX2+FMA: 6×16 micro-kernel with packing, and streaming paths for batch ≤ 4 (dense layers).
// Compiled with function target attributes rather than -mavx2 so the same binary runs on CPUs without AVX2; dispatch.cc
// calls sgemmAvx2 only after checking the CPU.
#include "gemm_blocked.h"
#include "transpose_avx.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#if defined(__GNUC__) || defined(__clang__)
#define LRP_AVX2 __attribute__((target("avx2,fma")))
#else
#define LRP_AVX2  // MSVC emits AVX2 intrinsics without a compiler flag
#endif

namespace lrp::kernels {

namespace {

// Cache blocks, fixed for a build (the benchmark can override them to search).
#ifndef LRP_AVX2_KC
#define LRP_AVX2_KC 384
#endif
#ifndef LRP_AVX2_MC
#define LRP_AVX2_MC 144
#endif
#ifndef LRP_AVX2_NC
#define LRP_AVX2_NC 4096
#endif

constexpr int kMR = 6, kNR = 16;
// Tiles of up to 4 rows run a loop of their own (8 accumulators) where the inline assembly is built; the intrinsic
// version computes all 6 rows for any tile.
#if (defined(__GNUC__) || defined(__clang__)) && !defined(LRP_GEMM_NO_ASM)
constexpr int kShortRows = 4;
#else
constexpr int kShortRows = 0;
#endif

// maskFor(n) loads/stores the first n (0..8) lanes.
LRP_AVX2 inline __m256i maskFor(int n) {
  alignas(32) static const int table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(table + 8 - n));
}

LRP_AVX2 inline float horizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// ---- packing ----

LRP_AVX2 void packA6(bool transA, const float* A, int lda, int rows, int depth, float* packed) {
  for (int i0 = 0; i0 < rows; i0 += kMR, packed += kMR * depth) {
    const int r = std::min(kMR, rows - i0);
    if (transA) {  // op(A)(i, k) = A[k·lda + i]: MR contiguous values per k
      for (int k = 0; k < depth; ++k) {
        const float* src = A + static_cast<ptrdiff_t>(k) * lda + i0;
        float* dst = packed + k * kMR;
        int i = 0;
        for (; i < r; ++i) dst[i] = src[i];
        for (; i < kMR; ++i) dst[i] = 0.f;
      }
    } else {  // op(A)(i, k) = A[i·lda + k]: interleave MR rows
      const float* src[kMR];
      for (int i = 0; i < kMR; ++i) src[i] = A + static_cast<ptrdiff_t>(i0 + std::min(i, r - 1)) * lda;
      for (int k = 0; k < depth; ++k)
        for (int i = 0; i < kMR; ++i) packed[k * kMR + i] = i < r ? src[i][k] : 0.f;
    }
  }
}

using x86::transpose8x8;

LRP_AVX2 void packB16(bool transB, const float* B, int ldb, int cols, int depth, float* packed) {
  const int panels = (cols + kNR - 1) / kNR;
  if (!transB) {  // op(B)(k, j) = B[k·ldb + j]: read B row by row, which the prefetchers stream well
    const int fullPanels = cols / kNR, rest = cols - fullPanels * kNR;
    const __m256i mask0 = maskFor(std::min(rest, 8)), mask1 = maskFor(std::max(rest - 8, 0));
    for (int k = 0; k < depth; ++k) {
      const float* src = B + static_cast<ptrdiff_t>(k) * ldb;
      float* dst = packed + k * kNR;
      // A single panel is packed just before use (see sgemmBlocked): fetch the next panels' part of this row early.
      if (panels == 1) _mm_prefetch(reinterpret_cast<const char*>(src + 2 * kNR), _MM_HINT_T0);
      for (int p = 0; p < fullPanels; ++p) {
        _mm256_store_ps(dst, _mm256_loadu_ps(src));
        _mm256_store_ps(dst + 8, _mm256_loadu_ps(src + 8));
        src += kNR;
        dst += static_cast<ptrdiff_t>(kNR) * depth;
      }
      if (rest) {
        _mm256_store_ps(dst, _mm256_maskload_ps(src, mask0));
        _mm256_store_ps(dst + 8, _mm256_maskload_ps(src + 8, mask1));
      }
    }
    return;
  }
  // op(B)(k, j) = B[j·ldb + k]: transpose 8×8 blocks of B's rows into the panel.
  for (int p = 0; p < panels; ++p) {
    float* panel = packed + static_cast<ptrdiff_t>(p) * kNR * depth;
    for (int half = 0; half < 2; ++half) {
      const int j0 = p * kNR + half * 8;
      const int valid = std::max(0, std::min(8, cols - j0));
      const float* row[8];
      for (int r = 0; r < 8; ++r) row[r] = B + static_cast<ptrdiff_t>(j0 + std::min(r, std::max(valid - 1, 0))) * ldb;
      float* out = panel + half * 8;
      int k = 0;
      if (valid == 8) {
        for (; k + 8 <= depth; k += 8) {
          if (panels == 1)  // packed just before use (see sgemmBlocked): fetch the next panel's rows early
            for (int r = 0; r < 8; ++r)
              _mm_prefetch(reinterpret_cast<const char*>(row[r] + static_cast<ptrdiff_t>(kNR) * ldb + k), _MM_HINT_T0);
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

// ---- the 6×16 micro-kernel: 12 ymm accumulators, 2 B loads and 6 broadcasts per k ----

#define LRP_STEP(offset)                                                                   \
  do {                                                                                     \
    const __m256 b0 = _mm256_load_ps(b + (offset) * kNR), b1 = _mm256_load_ps(b + (offset) * kNR + 8); \
    __m256 av = _mm256_broadcast_ss(a + (offset) * kMR + 0);                               \
    c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);               \
    av = _mm256_broadcast_ss(a + (offset) * kMR + 1);                                      \
    c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);               \
    av = _mm256_broadcast_ss(a + (offset) * kMR + 2);                                      \
    c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);               \
    av = _mm256_broadcast_ss(a + (offset) * kMR + 3);                                      \
    c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);               \
    av = _mm256_broadcast_ss(a + (offset) * kMR + 4);                                      \
    c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);               \
    av = _mm256_broadcast_ss(a + (offset) * kMR + 5);                                      \
    c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);               \
  } while (0)

// One row of the tile: C = alpha · acc, or C = fma(alpha, acc, C). The FMA is explicit because a compiler may or may
// not contract a separate multiply and add, and it must not decide differently for full and edge tiles.
#define LRP_STORE_ROW(c, ldc, r, lo, hi)                                                   \
  do {                                                                                     \
    float* cr = (c) + (r) * static_cast<ptrdiff_t>(ldc);                                   \
    if (accumulate) {                                                                      \
      _mm256_storeu_ps(cr, _mm256_fmadd_ps(lo, va, _mm256_loadu_ps(cr)));                  \
      _mm256_storeu_ps(cr + 8, _mm256_fmadd_ps(hi, va, _mm256_loadu_ps(cr + 8)));          \
    } else {                                                                               \
      _mm256_storeu_ps(cr, _mm256_mul_ps(lo, va));                                         \
      _mm256_storeu_ps(cr + 8, _mm256_mul_ps(hi, va));                                     \
    }                                                                                      \
  } while (0)

// The intrinsic versions' accumulators into acc, row by row (the layout storeTile6x16 reads).
#define LRP_SAVE_ACC(acc)                                                                  \
  do {                                                                                     \
    _mm256_store_ps((acc) + 0, c00); _mm256_store_ps((acc) + 8, c01);                      \
    _mm256_store_ps((acc) + 16, c10); _mm256_store_ps((acc) + 24, c11);                    \
    _mm256_store_ps((acc) + 32, c20); _mm256_store_ps((acc) + 40, c21);                    \
    _mm256_store_ps((acc) + 48, c30); _mm256_store_ps((acc) + 56, c31);                    \
    _mm256_store_ps((acc) + 64, c40); _mm256_store_ps((acc) + 72, c41);                    \
    _mm256_store_ps((acc) + 80, c50); _mm256_store_ps((acc) + 88, c51);                    \
  } while (0)

#if (defined(__GNUC__) || defined(__clang__)) && !defined(LRP_GEMM_NO_ASM)
// One k step of the loop in assembly for the first four rows of a tile: four broadcasts of A (the first at byte offset
// `a0` from %[a]; A panels keep their 6-float stride) times the B vectors in ymm12/ymm13, into the accumulators
// ymm0–ymm7. `a0` is a string: GNU as adds the +4… itself.
#define LRP_ASM_ROWS4(a0)                              \
  "vbroadcastss " a0 "(%[a]), %%ymm14\n"               \
  "vfmadd231ps %%ymm12, %%ymm14, %%ymm0\n"             \
  "vfmadd231ps %%ymm13, %%ymm14, %%ymm1\n"             \
  "vbroadcastss " a0 "+4(%[a]), %%ymm15\n"             \
  "vfmadd231ps %%ymm12, %%ymm15, %%ymm2\n"             \
  "vfmadd231ps %%ymm13, %%ymm15, %%ymm3\n"             \
  "vbroadcastss " a0 "+8(%[a]), %%ymm14\n"             \
  "vfmadd231ps %%ymm12, %%ymm14, %%ymm4\n"             \
  "vfmadd231ps %%ymm13, %%ymm14, %%ymm5\n"             \
  "vbroadcastss " a0 "+12(%[a]), %%ymm15\n"            \
  "vfmadd231ps %%ymm12, %%ymm15, %%ymm6\n"             \
  "vfmadd231ps %%ymm13, %%ymm15, %%ymm7\n"

// The same for all six rows of a 6×16 tile, into the 12 accumulators ymm0–ymm11.
#define LRP_ASM_ROWS6(a0)                              \
  LRP_ASM_ROWS4(a0)                                    \
  "vbroadcastss " a0 "+16(%[a]), %%ymm14\n"            \
  "vfmadd231ps %%ymm12, %%ymm14, %%ymm8\n"             \
  "vfmadd231ps %%ymm13, %%ymm14, %%ymm9\n"             \
  "vbroadcastss " a0 "+20(%[a]), %%ymm15\n"            \
  "vfmadd231ps %%ymm12, %%ymm15, %%ymm10\n"            \
  "vfmadd231ps %%ymm13, %%ymm15, %%ymm11\n"

// The accumulators zeroed (ymm0–ymm7 for 4 rows, ymm0–ymm11 for 6), and stored to %[acc] row by row (the layout
// storeTile6x16 reads; a 4-row tile stores zeros as rows 4 and 5, which storeTile6x16 reads but does not store).
#define LRP_ASM_ZERO8                                                                                                 \
  "vxorps %%ymm0, %%ymm0, %%ymm0\n" "vmovaps %%ymm0, %%ymm1\n" "vmovaps %%ymm0, %%ymm2\n" "vmovaps %%ymm0, %%ymm3\n" \
  "vmovaps %%ymm0, %%ymm4\n" "vmovaps %%ymm0, %%ymm5\n" "vmovaps %%ymm0, %%ymm6\n" "vmovaps %%ymm0, %%ymm7\n"
#define LRP_ASM_ZERO12 \
  LRP_ASM_ZERO8        \
  "vmovaps %%ymm0, %%ymm8\n" "vmovaps %%ymm0, %%ymm9\n" "vmovaps %%ymm0, %%ymm10\n" "vmovaps %%ymm0, %%ymm11\n"
#define LRP_ASM_STORE_ROWS4                                                                                           \
  "vmovaps %%ymm0, 0(%[acc])\n" "vmovaps %%ymm1, 32(%[acc])\n" "vmovaps %%ymm2, 64(%[acc])\n"                       \
  "vmovaps %%ymm3, 96(%[acc])\n" "vmovaps %%ymm4, 128(%[acc])\n" "vmovaps %%ymm5, 160(%[acc])\n"                    \
  "vmovaps %%ymm6, 192(%[acc])\n" "vmovaps %%ymm7, 224(%[acc])\n"
#define LRP_ASM_STORE12 \
  LRP_ASM_STORE_ROWS4   \
  "vmovaps %%ymm8, 256(%[acc])\n" "vmovaps %%ymm9, 288(%[acc])\n"                                            \
  "vmovaps %%ymm10, 320(%[acc])\n" "vmovaps %%ymm11, 352(%[acc])\n"
#define LRP_ASM_STORE8                                                                                                \
  LRP_ASM_STORE_ROWS4 "vxorps %%ymm0, %%ymm0, %%ymm0\n"                                                             \
  "vmovaps %%ymm0, 256(%[acc])\n" "vmovaps %%ymm0, 288(%[acc])\n"                                                \
  "vmovaps %%ymm0, 320(%[acc])\n" "vmovaps %%ymm0, 352(%[acc])\n"

// The k loop in assembly: compilers spill one of the 12 accumulators of the intrinsic version (15 live ymm registers
// plus a second broadcast register for scheduling), which costs ~10% of the micro-kernel. LRP_GEMM_NO_ASM selects
// the intrinsic version, which is what MSVC builds. The macro is the body of the two functions below, for the rows of
// ROWS (LRP_ASM_ROWS6 or LRP_ASM_ROWS4) with their ZERO and STORE; the 4-row loop clobbers ymm8–ymm11 too, which
// costs nothing in a leaf function (they are caller-saved).
#define LRP_ASM_ACCUMULATE(ROWS, ZERO, STORE)                                                                     \
  long k4 = depth / 4, k1 = depth % 4;                                                                            \
  __asm__ volatile(                                                                                               \
      ZERO                                                                                                        \
      "test %[k4], %[k4]\n"                                                                                       \
      "jz 2f\n"                                                                                                   \
      "1:\n"                                                                                                      \
      "prefetcht0 384(%[a])\n"                                                                                    \
      "vmovaps 0(%[b]), %%ymm12\n"                                                                                \
      "vmovaps 32(%[b]), %%ymm13\n"                                                                               \
      ROWS("0")                                                                                                   \
      "vmovaps 64(%[b]), %%ymm12\n"                                                                               \
      "vmovaps 96(%[b]), %%ymm13\n"                                                                               \
      ROWS("24")                                                                                                  \
      "vmovaps 128(%[b]), %%ymm12\n"                                                                              \
      "vmovaps 160(%[b]), %%ymm13\n"                                                                              \
      ROWS("48")                                                                                                  \
      "vmovaps 192(%[b]), %%ymm12\n"                                                                              \
      "vmovaps 224(%[b]), %%ymm13\n"                                                                              \
      ROWS("72")                                                                                                  \
      "add $96, %[a]\n"                                                                                           \
      "add $256, %[b]\n"                                                                                          \
      "dec %[k4]\n"                                                                                               \
      "jnz 1b\n"                                                                                                  \
      "2:\n"                                                                                                      \
      "test %[k1], %[k1]\n"                                                                                       \
      "jz 4f\n"                                                                                                   \
      "3:\n"                                                                                                      \
      "vmovaps 0(%[b]), %%ymm12\n"                                                                                \
      "vmovaps 32(%[b]), %%ymm13\n"                                                                               \
      ROWS("0")                                                                                                   \
      "add $24, %[a]\n"                                                                                           \
      "add $64, %[b]\n"                                                                                           \
      "dec %[k1]\n"                                                                                               \
      "jnz 3b\n"                                                                                                  \
      "4:\n"                                                                                                      \
      STORE                                                                                                       \
      : [a] "+r"(a), [b] "+r"(b), [k4] "+r"(k4), [k1] "+r"(k1)                                                    \
      : [acc] "r"(acc)                                                                                            \
      : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",  \
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");

LRP_AVX2 void accumulate6x16(int depth, const float* a, const float* b, float* acc) {
  LRP_ASM_ACCUMULATE(LRP_ASM_ROWS6, LRP_ASM_ZERO12, LRP_ASM_STORE12);
}

// accumulate6x16 for a tile of at most 4 rows: 8 FMAs per k instead of 12, each accumulator's FMAs the same and in
// the same order (the same bits). Two such tiles replace a 6-row one and a 2-row one that cost as much as two full
// ones (see tileRowsAt).
LRP_AVX2 void accumulate4x16(int depth, const float* a, const float* b, float* acc) {
  LRP_ASM_ACCUMULATE(LRP_ASM_ROWS4, LRP_ASM_ZERO8, LRP_ASM_STORE8);
}
#endif

// storeTile6x16 for a tile of full width (its first `rows` rows stored), with the epilogue applied to each row's two
// vectors before they are stored: C as LRP_STORE_ROW computes it (product or fma), + bias, × scale, then max(·, 0) to
// relu: the operations and order of convGemm's passes over a stored tile. max_ps returns its second operand (+0) for
// NaN and for ±0, as the passes' `c > 0 ? c : 0` does.
LRP_AVX2 inline void storeTile6x16WithEpilogue(const float* acc, float alpha, bool accumulate, float* C, int ldc,
                                               int rows, const TileEpilogue& e) {
  const __m256 va = _mm256_set1_ps(alpha), zero = _mm256_setzero_ps();
  for (int r = 0; r < rows; ++r) {
    const ptrdiff_t at = r * static_cast<ptrdiff_t>(ldc);
    __m256 lo = _mm256_load_ps(acc + r * kNR), hi = _mm256_load_ps(acc + r * kNR + 8);
    if (accumulate) {
      lo = _mm256_fmadd_ps(lo, va, _mm256_loadu_ps(C + at));
      hi = _mm256_fmadd_ps(hi, va, _mm256_loadu_ps(C + at + 8));
    } else {
      lo = _mm256_mul_ps(lo, va);
      hi = _mm256_mul_ps(hi, va);
    }
    if (e.bias) {
      const __m256 v = _mm256_set1_ps(e.bias[r]);
      lo = _mm256_add_ps(lo, v);
      hi = _mm256_add_ps(hi, v);
    }
    if (e.scale) {
      lo = _mm256_mul_ps(lo, _mm256_loadu_ps(e.scale + at));
      hi = _mm256_mul_ps(hi, _mm256_loadu_ps(e.scale + at + 8));
    }
    if (e.relu != C) {  // else C holds the ReLU alone
      _mm256_storeu_ps(C + at, lo);
      _mm256_storeu_ps(C + at + 8, hi);
    }
    if (e.relu) {
      _mm256_storeu_ps(e.relu + at, _mm256_max_ps(lo, zero));
      _mm256_storeu_ps(e.relu + at + 8, _mm256_max_ps(hi, zero));
    }
  }
}

// The kernel's last phase, shared by kernel6x16 and kernel6x16At: C = alpha · acc (or C += …) for the tile's rows and
// columns, acc the 6×16 accumulators row by row.
LRP_AVX2 inline void storeTile6x16(const float* acc, float alpha, bool accumulate, float* C, int ldc, int rows, int cols) {
  if (cols == kNR) return storeTile6x16WithEpilogue(acc, alpha, accumulate, C, ldc, rows, TileEpilogue{});
  const __m256 c00 = _mm256_load_ps(acc + 0), c01 = _mm256_load_ps(acc + 8), c10 = _mm256_load_ps(acc + 16);
  const __m256 c11 = _mm256_load_ps(acc + 24), c20 = _mm256_load_ps(acc + 32), c21 = _mm256_load_ps(acc + 40);
  const __m256 c30 = _mm256_load_ps(acc + 48), c31 = _mm256_load_ps(acc + 56), c40 = _mm256_load_ps(acc + 64);
  const __m256 c41 = _mm256_load_ps(acc + 72), c50 = _mm256_load_ps(acc + 80), c51 = _mm256_load_ps(acc + 88);
  const __m256 va = _mm256_set1_ps(alpha);
  // Narrower tiles go through a full-size scratch tile so every element sees exactly the same operations.
  alignas(32) float tile[kMR * kNR] = {};
  if (accumulate)
    for (int r = 0; r < rows; ++r)
      std::memcpy(tile + r * kNR, C + static_cast<ptrdiff_t>(r) * ldc, sizeof(float) * static_cast<size_t>(cols));
  LRP_STORE_ROW(tile, kNR, 0, c00, c01);
  LRP_STORE_ROW(tile, kNR, 1, c10, c11);
  LRP_STORE_ROW(tile, kNR, 2, c20, c21);
  LRP_STORE_ROW(tile, kNR, 3, c30, c31);
  LRP_STORE_ROW(tile, kNR, 4, c40, c41);
  LRP_STORE_ROW(tile, kNR, 5, c50, c51);
  for (int r = 0; r < rows; ++r)
    std::memcpy(C + static_cast<ptrdiff_t>(r) * ldc, tile + r * kNR, sizeof(float) * static_cast<size_t>(cols));
}

// A full tile's C rows that the kernel adds to, requested before the k loop so that they are in L1 after it.
LRP_AVX2 inline void prefetchTile6(float* C, int ldc, int rows, int cols, bool accumulate) {
  if (rows == kMR && cols == kNR && accumulate)
    for (int r = 0; r < kMR; ++r) _mm_prefetch(reinterpret_cast<const char*>(C + static_cast<ptrdiff_t>(r) * ldc), _MM_HINT_T0);
}

// The 6×16 accumulators of a · b over `depth` into acc, row by row.
LRP_AVX2 inline void accumulateTile(int depth, const float* a, const float* b, float* acc, int rows) {
#if (defined(__GNUC__) || defined(__clang__)) && !defined(LRP_GEMM_NO_ASM)
  if (rows <= 4) accumulate4x16(depth, a, b, acc);
  else accumulate6x16(depth, a, b, acc);
#else
  (void)rows;
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  int k = 0;
  for (; k + 4 <= depth; k += 4) {
    _mm_prefetch(reinterpret_cast<const char*>(a + 16 * kMR), _MM_HINT_T0);
    LRP_STEP(0);
    LRP_STEP(1);
    LRP_STEP(2);
    LRP_STEP(3);
    a += 4 * kMR;
    b += 4 * kNR;
  }
  for (; k < depth; ++k) {
    LRP_STEP(0);
    a += kMR;
    b += kNR;
  }
  LRP_SAVE_ACC(acc);
#endif
}

LRP_AVX2 void kernel6x16(int depth, const float* a, const float* b, float alpha, bool accumulate, float* C, int ldc,
                         int rows, int cols) {
  prefetchTile6(C, ldc, rows, cols, accumulate);
  alignas(32) float acc[kMR * kNR];
  accumulateTile(depth, a, b, acc, rows);
  storeTile6x16(acc, alpha, accumulate, C, ldc, rows, cols);
}

// kernel6x16 with B read in place (GemmMicroKernel::kernelAt): row k is the 8 floats at first + offsets[k] and the 8
// at second + offsets[k].
#if (defined(__GNUC__) || defined(__clang__)) && !defined(LRP_GEMM_NO_ASM)
// Same k loop as accumulate6x16, one k per iteration: the FMAs and their order per accumulator are the same, so are
// the bits; the two B vectors come from unaligned loads at the two halves' addresses.
// The body of the two functions below, as LRP_ASM_ACCUMULATE.
#define LRP_ASM_ACCUMULATE_AT(ROWS, ZERO, STORE)                                                                         \
  long k = depth;                                                                                                        \
  __asm__ volatile(                                                                                                      \
      ZERO                                                                                                               \
      "test %[k], %[k]\n"                                                                                                \
      "jz 2f\n"                                                                                                          \
      "1:\n"                                                                                                             \
      "mov (%[off]), %%rax\n"                                                                                            \
      "vmovups 0(%[first],%%rax,4), %%ymm12\n"                                                                           \
      "vmovups 0(%[second],%%rax,4), %%ymm13\n"                                                                          \
      ROWS("0")                                                                                                          \
      "add $24, %[a]\n"                                                                                                  \
      "add $8, %[off]\n"                                                                                                 \
      "dec %[k]\n"                                                                                                       \
      "jnz 1b\n"                                                                                                         \
      "2:\n"                                                                                                             \
      STORE                                                                                                              \
      : [a] "+r"(a), [off] "+r"(offsets), [k] "+r"(k)                                                                    \
      : [first] "r"(first), [second] "r"(second), [acc] "r"(acc)                                                         \
      : "rax", "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",  \
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");

LRP_AVX2 void accumulate6x16At(int depth, const float* a, const float* first, const float* second, const int64_t* offsets,
                               float* acc) {
  LRP_ASM_ACCUMULATE_AT(LRP_ASM_ROWS6, LRP_ASM_ZERO12, LRP_ASM_STORE12);
}

// accumulate6x16At for a tile of at most 4 rows (see accumulate4x16).
LRP_AVX2 void accumulate4x16At(int depth, const float* a, const float* first, const float* second, const int64_t* offsets,
                               float* acc) {
  LRP_ASM_ACCUMULATE_AT(LRP_ASM_ROWS4, LRP_ASM_ZERO8, LRP_ASM_STORE8);
}
#endif

// The accumulators of kernel6x16At into acc, row by row.
LRP_AVX2 inline void accumulateTileAt(int depth, const float* a, const float* first, const float* second,
                                      const int64_t* offsets, float* acc, int rows) {
#if (defined(__GNUC__) || defined(__clang__)) && !defined(LRP_GEMM_NO_ASM)
  if (rows <= 4) accumulate4x16At(depth, a, first, second, offsets, acc);
  else accumulate6x16At(depth, a, first, second, offsets, acc);
#else
  (void)rows;
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int k = 0; k < depth; ++k) {
    const __m256 b0 = _mm256_loadu_ps(first + offsets[k]), b1 = _mm256_loadu_ps(second + offsets[k]);
    __m256 av = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);
    a += kMR;
  }
  LRP_SAVE_ACC(acc);
#endif
}

LRP_AVX2 void kernel6x16At(int depth, const float* a, const float* first, const float* second, const int64_t* offsets,
                           float alpha, bool accumulate, float* C, int ldc, int rows, int cols) {
  prefetchTile6(C, ldc, rows, cols, accumulate);
  alignas(32) float acc[kMR * kNR];
  accumulateTileAt(depth, a, first, second, offsets, acc, rows);
  storeTile6x16(acc, alpha, accumulate, C, ldc, rows, cols);
}

// kernel6x16 and kernel6x16At for a tile of full width with its epilogue (GemmMicroKernel::kernelWithEpilogue): the
// same accumulation, then storeTile6x16WithEpilogue.
LRP_AVX2 void kernel6x16WithEpilogue(int depth, const float* a, const float* b, float alpha, bool accumulate, float* C,
                                     int ldc, int rows, const TileEpilogue& epilogue) {
  prefetchTile6(C, ldc, rows, kNR, accumulate);
  alignas(32) float acc[kMR * kNR];
  accumulateTile(depth, a, b, acc, rows);
  storeTile6x16WithEpilogue(acc, alpha, accumulate, C, ldc, rows, epilogue);
}

LRP_AVX2 void kernel6x16AtWithEpilogue(int depth, const float* a, const float* first, const float* second,
                                       const int64_t* offsets, float alpha, bool accumulate, float* C, int ldc,
                                       int rows, const TileEpilogue& epilogue) {
  prefetchTile6(C, ldc, rows, kNR, accumulate);
  alignas(32) float acc[kMR * kNR];
  accumulateTileAt(depth, a, first, second, offsets, acc, rows);
  storeTile6x16WithEpilogue(acc, alpha, accumulate, C, ldc, rows, epilogue);
}

#undef LRP_STEP
#undef LRP_SAVE_ACC
#undef LRP_ASM_ROWS6
#undef LRP_ASM_ROWS4
#undef LRP_ASM_ZERO12
#undef LRP_ASM_STORE12
#undef LRP_ASM_ZERO8
#undef LRP_ASM_STORE8
#undef LRP_ASM_STORE_ROWS4
#undef LRP_ASM_ACCUMULATE
#undef LRP_ASM_ACCUMULATE_AT
#undef LRP_STORE_ROW

// A convolution panel (see ConvPanelPlan): per row k and run, masked loads of the valid lanes (maskload does not
// fault on masked-off lanes) and full-width stores; rows two channels ahead are prefetched.
LRP_AVX2 void packConv(const ConvPanelPlan& p, int k0, int depth, float* packed) {
  const __m256i laneBit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  int c = k0 / p.taps, t = k0 % p.taps, column = t % p.kernelWidth;
  for (int k = 0; k < depth; ++k, packed += kNR) {
    const int64_t channel = int64_t(c) * p.plane;
    const int64_t* source = p.source + t * p.runs;
    const uint32_t* valid = p.valid + t * p.runs;
    const bool rowStart = column == 0;
    for (int r = 0; r < p.runs; ++r) {
      const float* src = p.image[r] + channel + source[r];
      float* dst = packed + p.offset[r];
      for (int half = 0; half * 8 < p.length[r]; ++half) {
        const __m256i bits = _mm256_and_si256(_mm256_set1_epi32(int(valid[r] >> (8 * half))), laneBit);
        _mm256_storeu_ps(dst + 8 * half, _mm256_maskload_ps(src + 8 * half, _mm256_cmpeq_epi32(bits, laneBit)));
      }
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

const GemmMicroKernel kAvx2Micro{kMR, kNR, LRP_AVX2_KC, LRP_AVX2_MC, LRP_AVX2_NC, packA6, packB16, kernel6x16, packConv,
                                 kernel6x16At, kernel6x16WithEpilogue, kernel6x16AtWithEpilogue, kShortRows};

// ---- batch ≤ 4, B transposed (dense forward): each weight row is read once and dotted with the ROWS rows of A ----

// One vector accumulator per (row, column), over k in steps of 8 with a masked tail at the very end of K, kept in
// acc[column · ROWS + row] between calls: a column's result does not depend on which columns it is computed with, nor
// on the depth blocking (the FMA sequence per element is the same).
template <int ROWS, int COLS>
LRP_AVX2 void dotTile(int k0, int k1, const float* A, int lda, const float* B, int ldb, __m256* acc, __m256i tailMask) {
  __m256 sum[ROWS][COLS];
  for (int c = 0; c < COLS; ++c)
    for (int r = 0; r < ROWS; ++r) sum[r][c] = acc[c * ROWS + r];
  int k = k0;
  for (; k + 8 <= k1; k += 8) {
    __m256 av[ROWS];
    for (int r = 0; r < ROWS; ++r) av[r] = _mm256_loadu_ps(A + static_cast<ptrdiff_t>(r) * lda + k);
    for (int c = 0; c < COLS; ++c) {
      // Few weight rows stream at once when ROWS is large: prefetch ahead, as the hardware ramps up slowly.
      if (ROWS > 1) _mm_prefetch(reinterpret_cast<const char*>(B + static_cast<ptrdiff_t>(c) * ldb + k + 256), _MM_HINT_T0);
      const __m256 bv = _mm256_loadu_ps(B + static_cast<ptrdiff_t>(c) * ldb + k);
      for (int r = 0; r < ROWS; ++r) sum[r][c] = _mm256_fmadd_ps(av[r], bv, sum[r][c]);
    }
  }
  if (k < k1) {
    __m256 av[ROWS];
    for (int r = 0; r < ROWS; ++r) av[r] = _mm256_maskload_ps(A + static_cast<ptrdiff_t>(r) * lda + k, tailMask);
    for (int c = 0; c < COLS; ++c) {
      const __m256 bv = _mm256_maskload_ps(B + static_cast<ptrdiff_t>(c) * ldb + k, tailMask);
      for (int r = 0; r < ROWS; ++r) sum[r][c] = _mm256_fmadd_ps(av[r], bv, sum[r][c]);
    }
  }
  for (int c = 0; c < COLS; ++c)
    for (int r = 0; r < ROWS; ++r) acc[c * ROWS + r] = sum[r][c];
}

// Blocks of 64 columns × 1024 depth keep the ROWS rows of A (≤ 16 KiB) in L1 while each weight row streams by once.
template <int ROWS>
LRP_AVX2 void smallBatchTransposedB(int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
                                    bool accumulate, float* C, int ldc) {
  constexpr int COLS = ROWS == 1 ? 8 : ROWS == 2 ? 4 : ROWS == 3 ? 3 : 2;  // ROWS·COLS + ROWS + 1 ≤ 16 registers
  constexpr int kColumnBlock = 64, kDepthBlock = 1024;                      // kDepthBlock: a multiple of 8
  const __m256i tailMask = maskFor(K % 8);
  alignas(32) __m256 acc[kColumnBlock * ROWS];
  const __m128 scale = _mm_set_ss(alpha);
  for (int j0 = 0; j0 < N; j0 += kColumnBlock) {
    const int width = std::min(kColumnBlock, N - j0);
    for (int i = 0; i < width * ROWS; ++i) acc[i] = _mm256_setzero_ps();
    for (int k0 = 0; k0 < K; k0 += kDepthBlock) {
      const int k1 = std::min(K, k0 + kDepthBlock);
      int j = 0;
      for (; j + COLS <= width; j += COLS)
        dotTile<ROWS, COLS>(k0, k1, A, lda, B + static_cast<ptrdiff_t>(j0 + j) * ldb, ldb, acc + j * ROWS, tailMask);
      for (; j < width; ++j)
        dotTile<ROWS, 1>(k0, k1, A, lda, B + static_cast<ptrdiff_t>(j0 + j) * ldb, ldb, acc + j * ROWS, tailMask);
    }
    for (int j = 0; j < width; ++j)
      for (int r = 0; r < ROWS; ++r) {
        const __m128 sum = _mm_set_ss(horizontalSum(acc[j * ROWS + r]));
        float* out = C + static_cast<ptrdiff_t>(r) * ldc + j0 + j;
        *out = _mm_cvtss_f32(accumulate ? _mm_fmadd_ss(sum, scale, _mm_set_ss(*out)) : _mm_mul_ss(sum, scale));
      }
  }
}

// ---- batch ≤ 4, B not transposed (dense transposed pass): C rows accumulate B rows, a block of columns at a time ----

// acc[r][j] += A(r, k) · B(k, j) one k after another (an FMA chain per element in k order, whatever the grouping), over
// a block of columns, so B is streamed once. The block is as wide as the columns when their accumulators fit in L2:
// each B row is then read whole, as one sequential stretch. Narrower blocks read a short segment of every row, one
// 4 KiB page after another, which the hardware prefetchers follow at half the bandwidth (12 against 23 GB/s on Zen 3).
template <int ROWS>
LRP_AVX2 void smallBatchPlainB(int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
                               bool accumulate, float* C, int ldc) {
  const int kBlock = ROWS * N <= (48 << 10) ? N : 512;  // accumulators: up to 192 KiB in the first case, 8 KiB else
  constexpr int kStep = ROWS <= 2 ? 4 : 2;
  thread_local PackBuffer accBuffer;
  const int64_t stride = (static_cast<int64_t>(kBlock) + 7) / 8 * 8;
  float* const accBase = accBuffer.reserve(static_cast<size_t>(ROWS * stride));
  float* acc[ROWS];
  for (int r = 0; r < ROWS; ++r) acc[r] = accBase + r * stride;
  const __m256 va = _mm256_set1_ps(alpha);
  for (int j0 = 0; j0 < N; j0 += kBlock) {
    const int width = std::min(kBlock, N - j0);
    const int vectors = (width + 7) / 8, rest = width - (vectors - 1) * 8;
    const __m256i lastMask = maskFor(rest);
    for (int r = 0; r < ROWS; ++r) std::memset(acc[r], 0, sizeof(float) * static_cast<size_t>(vectors) * 8);
    const float* b = B + j0;
    int k = 0;
    for (; k + kStep <= K; k += kStep) {
      __m256 as[ROWS][kStep];
      for (int r = 0; r < ROWS; ++r)
        for (int q = 0; q < kStep; ++q) as[r][q] = _mm256_broadcast_ss(A + static_cast<ptrdiff_t>(r) * lda + k + q);
      const float* bk = b + static_cast<ptrdiff_t>(k) * ldb;
      for (int v = 0; v < vectors; ++v) {
        __m256 bv[kStep];
        if (v + 1 < vectors)
          for (int q = 0; q < kStep; ++q) bv[q] = _mm256_loadu_ps(bk + static_cast<ptrdiff_t>(q) * ldb + v * 8);
        else
          for (int q = 0; q < kStep; ++q) bv[q] = _mm256_maskload_ps(bk + static_cast<ptrdiff_t>(q) * ldb + v * 8, lastMask);
        for (int r = 0; r < ROWS; ++r) {
          __m256 x = _mm256_load_ps(acc[r] + v * 8);
          for (int q = 0; q < kStep; ++q) x = _mm256_fmadd_ps(as[r][q], bv[q], x);
          _mm256_store_ps(acc[r] + v * 8, x);
        }
      }
    }
    for (; k < K; ++k) {
      const float* bk = b + static_cast<ptrdiff_t>(k) * ldb;
      for (int v = 0; v < vectors; ++v) {
        const __m256 bv = v + 1 < vectors ? _mm256_loadu_ps(bk + v * 8) : _mm256_maskload_ps(bk + v * 8, lastMask);
        for (int r = 0; r < ROWS; ++r) {
          const __m256 as = _mm256_broadcast_ss(A + static_cast<ptrdiff_t>(r) * lda + k);
          _mm256_store_ps(acc[r] + v * 8, _mm256_fmadd_ps(as, bv, _mm256_load_ps(acc[r] + v * 8)));
        }
      }
    }
    for (int r = 0; r < ROWS; ++r) {
      float* c = C + static_cast<ptrdiff_t>(r) * ldc + j0;
      for (int v = 0; v < vectors; ++v) {
        const __m256i mask = v + 1 < vectors ? maskFor(8) : lastMask;
        const __m256 x = _mm256_load_ps(acc[r] + v * 8);
        _mm256_maskstore_ps(c + v * 8, mask,
                            accumulate ? _mm256_fmadd_ps(x, va, _mm256_maskload_ps(c + v * 8, mask)) : _mm256_mul_ps(x, va));
      }
    }
  }
}

}  // namespace

const GemmMicroKernel& avx2MicroKernel() { return kAvx2Micro; }

void sgemmAvx2(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
               int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (transA || M > 4 || K <= 0 || alpha == 0.f) {
    sgemmBlocked(kAvx2Micro, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  if (beta != 0.f && beta != 1.f) {
    scaleMatrix(M, N, beta, C, ldc);
    beta = 1.f;
  }
  const bool accumulate = beta == 1.f;
  auto run = transB ? (M == 1   ? smallBatchTransposedB<1>
                       : M == 2 ? smallBatchTransposedB<2>
                       : M == 3 ? smallBatchTransposedB<3>
                                : smallBatchTransposedB<4>)
                    : (M == 1   ? smallBatchPlainB<1>
                       : M == 2 ? smallBatchPlainB<2>
                       : M == 3 ? smallBatchPlainB<3>
                                : smallBatchPlainB<4>);
  run(N, K, alpha, A, lda, B, ldb, accumulate, C, ldc);
}

}  // namespace lrp::kernels

#endif
