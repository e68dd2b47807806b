// The cache-blocked GEMM driver shared by the SIMD kernels (GotoBLAS/BLIS loop structure) and the kernels' entry points.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gemm.h"

namespace lrp::kernels {

// Where the values of one convolution B panel come from (conv_gemm.cc builds it for stride-1 convolutions; a
// micro-kernel's packConv runs it). The panel's columns are `runs` stretches of output rows. Under kernel tap t
// (k = c·taps + t), lane e of run r reads image[r] + c·plane + source[t·runs + r] + e when bit e of
// valid[t·runs + r] is set, and is 0 otherwise.
struct ConvPanelPlan {
  int runs, taps, kernelWidth;
  int64_t plane;  // floats per input channel
  const float* image[32];
  int offset[32], length[32];  // per run: first panel column, columns
  const int64_t* source;       // [taps × runs]
  const uint32_t* valid;       // [taps × runs]
};

// What convGemm does to a finished C tile (the last K block) besides storing it, in this order: add bias[r] to row r,
// multiply by `scale` (laid out as C, row stride ldc), and write max(C, 0) to `relu` (laid out as C). Null members do
// nothing. A micro-kernel that fuses it applies it in registers before its stores, with the same operations as the
// driver's passes over the stored tile: the same bits.
struct TileEpilogue {
  const float* bias;  // MR values, alpha·bias of the tile's rows
  const float* scale;
  float* relu;  // may be C: then only the ReLU is stored
};

// What one instruction set contributes to the blocked GEMM: packing routines and an MR×NR register-tiled micro-kernel.
// Packing handles the transposes, so the micro-kernel sees one layout: A panels of MR rows stored k-major
// (a[k·MR + i]) and B panels of NR columns stored k-major (b[k·NR + j]), both zero-padded to full panels.
struct GemmMicroKernel {
  int mr, nr;      // register tile
  int kc, mc, nc;  // cache blocks: a KC×NR B panel stays in L1, an MC×KC A block in L2, a KC×NC B block in L3
  // Packs op(A)[0:rows, 0:depth] into ceil(rows/MR) panels; A points at op(A)(0, 0).
  void (*packA)(bool transA, const float* A, int lda, int rows, int depth, float* packed);
  // Packs op(B)[0:depth, 0:cols] into ceil(cols/NR) panels; B points at op(B)(0, 0).
  void (*packB)(bool transB, const float* B, int ldb, int cols, int depth, float* packed);
  // C[0:rows, 0:cols] = alpha · a · b (+ C when accumulate); rows ≤ MR, cols ≤ NR. Must compute every element of the
  // tile with the same operations whatever rows and cols are, so results do not depend on where a tile falls.
  void (*kernel)(int depth, const float* a, const float* b, float alpha, bool accumulate, float* C, int ldc, int rows,
                 int cols);
  // Packs rows [k0, k0 + depth) of a convolution panel into packed[(k − k0)·NR + j] for the columns its runs cover,
  // reading only valid lanes. May write zeros up to 16 floats past a run's end: later runs and rows overwrite them, and
  // callers leave slack after the last row. Null: conv_gemm.cc's portable loops.
  void (*packConv)(const ConvPanelPlan& plan, int k0, int depth, float* packed);
  // As `kernel`, with the B panel read in place instead of packed: row k is the NR/2 floats at first + offsets[k]
  // followed by the NR/2 at second + offsets[k] (a convolution panel whose two halves each read contiguous input).
  // Same operations per element as `kernel`, so the same bits. Null: the driver always packs.
  void (*kernelAt)(int depth, const float* a, const float* first, const float* second, const int64_t* offsets,
                   float alpha, bool accumulate, float* C, int ldc, int rows, int cols) = nullptr;
  // kernel and kernelAt for a tile of NR columns (rows ≤ MR) followed by its epilogue, applied before the stores (one
  // store per C vector and one per ReLU vector, where the driver's passes would store the tile up to three times).
  // Null: the driver runs the passes after kernel / kernelAt.
  void (*kernelWithEpilogue)(int depth, const float* a, const float* b, float alpha, bool accumulate, float* C, int ldc,
                             int rows, const TileEpilogue& epilogue) = nullptr;
  void (*kernelAtWithEpilogue)(int depth, const float* a, const float* first, const float* second,
                               const int64_t* offsets, float alpha, bool accumulate, float* C, int ldc, int rows,
                               const TileEpilogue& epilogue) = nullptr;
  // Where not 0: the kernels run a tile of at most this many rows faster than a full one, in proportion to its rows
  // (see tileRowsAt). 0: any tile costs a full one.
  int shortRows = 0;
};

// The height of the tile that starts `remaining` rows before the end of a block: MR, except that with short tiles the
// last 7 or 8 rows are two tiles of 4 + 3 or 4 + 4 rows rather than a full one and one of 1 or 2 (on AVX2 a tile of
// 4 rows takes 2/3 of a full one's time whatever its rows, so M = 32 costs 5⅓ full tiles instead of 6). The tile at
// row i of a block is always in packed A panel ⌈i / MR⌉ (packATiles), so the panels' count and places do not change.
int tileRowsAt(const GemmMicroKernel& micro, int remaining);

// Packs op(A)[0:rows, 0:depth] as micro.packA does, one panel per tile of tileRowsAt: the tile at row i goes to panel
// ⌈i / MR⌉, zero-padded to MR rows.
void packATiles(const GemmMicroKernel& micro, bool transA, const float* A, int lda, int rows, int depth, float* packed);

// C[0:rows, 0:cols] = alpha · (A block · B panel) (+ C when accumulate): the block's tiles of tileRowsAt rows, each read
// from its panel of packedA as packATiles laid them out (the panel at ⌈i / MR⌉ for the tile at row i); cols ≤ NR.
void sweepPanel(const GemmMicroKernel& micro, int kc, const float* packedA, int rows, const float* panel, float alpha,
                bool accumulate, float* C, int ldc, int cols);

// A 64-byte aligned scratch buffer that only grows; one per thread and use, so concurrent callers never share it.
class PackBuffer {
 public:
  PackBuffer() = default;
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  ~PackBuffer() { release(); }
  float* reserve(size_t count);

 private:
  void release();
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

int roundUp(int value, int step);
// The K block for `total` under `limit`: the fewest blocks of nearly equal size (see gemm_blocked.cc).
int balancedBlock(int total, int limit, int step);

// C = alpha · op(A) · op(B) + beta · C with the given micro-kernel; single-threaded, packing buffers are thread_local.
void sgemmBlocked(const GemmMicroKernel& micro, bool transA, bool transB, int M, int N, int K, float alpha,
                  const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc);

// C = beta · C for the trivial cases (K = 0 or alpha = 0) and for a beta other than 0 or 1; beta 0 writes zeros.
void scaleMatrix(int M, int N, float beta, float* C, int ldc);
// What the blocked drivers do before their loops: false where nothing is left to compute (an empty C, or K = 0 or
// alpha = 0, with C scaled by beta); otherwise C scaled first if beta is neither 0 nor 1, and beta then 1.
bool prepareC(int M, int N, int K, float alpha, float& beta, float* C, int ldc);

#if defined(__x86_64__) || defined(_M_X64)
#define LRP_HAVE_SGEMM_AVX2 1
void sgemmAvx2(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
               int ldb, float beta, float* C, int ldc);
// The AVX2 and AVX-512F micro-kernels (call the latter only where cpuFeatures().avx512f).
const GemmMicroKernel& avx2MicroKernel();
const GemmMicroKernel& avx512MicroKernel();
void sgemmAvx512(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                 int ldb, float beta, float* C, int ldc);
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
#define LRP_HAVE_SGEMM_NEON 1
void sgemmNeon(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
               int ldb, float beta, float* C, int ldc);
const GemmMicroKernel& neonMicroKernel();
#endif

}  // namespace lrp::kernels
