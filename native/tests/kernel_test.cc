// Checks every GEMM implementation the CPU can run against a float64 reference and against sgemmScalar: all transpose
// combinations, edge sizes, padded strides, alpha/beta variants, NaN-filled C with beta 0, and bit-identical results
// across repeated calls, threads and splits of N. Exit status 0 when everything passes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../kernels/gemm.h"
#include "../kernels/gemm_packed_b.h"

using lrp::kernels::SgemmKernel;

namespace {

constexpr double kTolerance = 1e-5;  // |C − reference| / (|alpha|·Σ|a·b| + |beta·C|)
constexpr float kSentinel = 12345.f;

struct Shape {
  bool transA, transB;
  int M, N, K;
  float alpha, beta;
  int padA, padB, padC;
};

struct Problem {
  Shape s;
  int lda, ldb, ldc;
  std::vector<float> A, B, C0;
};

Problem makeProblem(const Shape& s, std::mt19937& rng) {
  Problem p{s, 0, 0, 0, {}, {}, {}};
  std::uniform_real_distribution<float> value(-1.f, 1.f);
  const int rowsA = s.transA ? s.K : s.M, colsA = s.transA ? s.M : s.K;
  const int rowsB = s.transB ? s.N : s.K, colsB = s.transB ? s.K : s.N;
  p.lda = colsA + s.padA;
  p.ldb = colsB + s.padB;
  p.ldc = s.N + s.padC;
  p.A.assign(size_t(rowsA) * p.lda, kSentinel);
  p.B.assign(size_t(rowsB) * p.ldb, kSentinel);
  for (int r = 0; r < rowsA; ++r)
    for (int c = 0; c < colsA; ++c) p.A[size_t(r) * p.lda + c] = value(rng);
  for (int r = 0; r < rowsB; ++r)
    for (int c = 0; c < colsB; ++c) p.B[size_t(r) * p.ldb + c] = value(rng);
  p.C0.assign(size_t(s.M) * p.ldc, kSentinel);
  for (int i = 0; i < s.M; ++i)
    for (int j = 0; j < s.N; ++j) p.C0[size_t(i) * p.ldc + j] = s.beta == 0.f ? NAN : value(rng);
  return p;
}

// The product with B packed once (PackedGemmB), its columns computed as two calls split at a panel boundary, the
// second from another thread, as the engine's dense layers do.
std::vector<float> runPackedB(const SgemmKernel& kernel, const Problem& p) {
  const Shape& s = p.s;
  const lrp::kernels::PackedGemmB packed(*kernel.micro, s.transB, p.B.data(), p.ldb, s.K, s.N);
  std::vector<float> C = p.C0;
  const int NR = kernel.micro->nr, split = std::min(s.N, (s.N / 2 + NR - 1) / NR * NR);
  lrp::kernels::sgemmPackedB(packed, 0, split, s.transA, s.M, s.alpha, p.A.data(), p.lda, s.beta, C.data(), p.ldc);
  std::thread([&] {
    lrp::kernels::sgemmPackedB(packed, split, s.N - split, s.transA, s.M, s.alpha, p.A.data(), p.lda, s.beta,
                               C.data() + split, p.ldc);
  }).join();
  return C;
}

std::vector<float> run(const SgemmKernel& kernel, const Problem& p) {
  std::vector<float> C = p.C0;
  kernel.function(p.s.transA, p.s.transB, p.s.M, p.s.N, p.s.K, p.s.alpha, p.A.data(), p.lda, p.B.data(), p.ldb,
                  p.s.beta, C.data(), p.ldc);
  return C;
}

// The same product computed as two calls over a split of N, as the engine's thread pool does.
std::vector<float> runSplit(const SgemmKernel& kernel, const Problem& p, int split) {
  std::vector<float> C = p.C0;
  const Shape& s = p.s;
  const float* B2 = s.transB ? p.B.data() + size_t(split) * p.ldb : p.B.data() + split;
  kernel.function(s.transA, s.transB, s.M, split, s.K, s.alpha, p.A.data(), p.lda, p.B.data(), p.ldb, s.beta, C.data(),
                  p.ldc);
  kernel.function(s.transA, s.transB, s.M, s.N - split, s.K, s.alpha, p.A.data(), p.lda, B2, p.ldb, s.beta,
                  C.data() + split, p.ldc);
  return C;
}

struct Check {
  double maxError = 0;        // against float64, relative to the magnitude of the terms
  double maxScalarDiff = 0;   // against sgemmScalar, same normalisation
  std::string failure;
};

void compare(const Problem& p, const std::vector<float>& C, const std::vector<float>& scalar, Check& check) {
  const Shape& s = p.s;
  for (int i = 0; i < s.M; ++i) {
    for (int j = 0; j < s.N; ++j) {
      double sum = 0, magnitude = 0;
      for (int k = 0; k < s.K; ++k) {
        const double a = s.transA ? p.A[size_t(k) * p.lda + i] : p.A[size_t(i) * p.lda + k];
        const double b = s.transB ? p.B[size_t(j) * p.ldb + k] : p.B[size_t(k) * p.ldb + j];
        sum += a * b;
        magnitude += std::fabs(a * b);
      }
      double reference = double(s.alpha) * sum;
      magnitude *= std::fabs(double(s.alpha));
      if (s.beta != 0.f) {
        const double c0 = double(s.beta) * p.C0[size_t(i) * p.ldc + j];
        reference += c0;
        magnitude += std::fabs(c0);
      }
      const double scale = std::max(magnitude, 1e-30);
      const double error = std::fabs(C[size_t(i) * p.ldc + j] - reference) / scale;
      const double diff = std::fabs(double(C[size_t(i) * p.ldc + j]) - scalar[size_t(i) * p.ldc + j]) / scale;
      if (!(error <= kTolerance) && check.failure.empty())
        check.failure = "C[" + std::to_string(i) + "," + std::to_string(j) + "] = " + std::to_string(C[size_t(i) * p.ldc + j]) +
                        ", reference " + std::to_string(reference);
      if (!(error <= check.maxError)) check.maxError = std::isnan(error) ? INFINITY : error;
      if (!(diff <= check.maxScalarDiff)) check.maxScalarDiff = std::isnan(diff) ? INFINITY : diff;
    }
    for (int j = s.N; j < p.ldc; ++j)
      if (C[size_t(i) * p.ldc + j] != kSentinel && check.failure.empty())
        check.failure = "wrote outside C at row " + std::to_string(i) + ", column " + std::to_string(j);
  }
}

std::string className(const Shape& s) {
  std::string name = std::string(s.transA ? "T" : "N") + (s.transB ? "T" : "N");
  if (s.M <= 4) name += " M<=4";
  else if (s.M * s.N * s.K >= 1000000) name += " large";
  else name += " small";
  return name;
}

std::vector<Shape> shapes(std::mt19937& rng) {
  std::vector<Shape> out;
  std::uniform_int_distribution<int> pad(0, 5), small(1, 70), tiny(1, 4);
  const float alphas[] = {1.f, -1.f, 0.7f};
  const float betas[] = {0.f, 1.f, 0.5f};
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      auto add = [&](int M, int N, int K, int variant) {
        out.push_back(Shape{ta == 1, tb == 1, M, N, K, alphas[variant % 3], betas[(variant / 3) % 3], pad(rng), pad(rng),
                            pad(rng)});
      };
      int variant = 0;
      // Sizes of 1 and around the tile and vector widths (6×16 AVX2, 12×32 AVX-512, 8×12 NEON, 8-wide k steps); M of
      // 7, 8, 13, 14, 25 and 32 end in AVX2's 4 + 3 or 4 + 4 row tiles (tileRowsAt).
      for (int M : {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 25, 32})
        for (int N : {1, 7, 8, 12, 16, 17, 31, 32, 33, 47})
          for (int K : {1, 3, 8, 9, 17}) add(M, N, K, variant++);
      for (int r = 0; r < 60; ++r) add(small(rng), small(rng), small(rng), variant++);
      for (int r = 0; r < 12; ++r) add(tiny(rng), 1 + small(rng) * 11, 1 + small(rng) * 9, variant++);  // batch ≤ 4
      // Larger than one cache block in every direction: K > KC (256 AVX-512, 384 AVX2), M > MC (144 AVX2, 240
      // AVX-512), and N > the 512-column block.
      add(150, 530, 300, variant++);
      add(253, 77, 400, variant++);
      add(3, 1100, 600, variant++);
      add(4, 700, 1030, variant++);
      add(1, 2049, 520, variant++);
      add(200, 70, 520, variant++);
    }
  return out;
}

}  // namespace

// --list: print the kernels and which one sgemm uses, and exit (for checking dispatch on emulated CPUs).
int main(int argc, char** argv) {
  const std::vector<SgemmKernel>& kernels = lrp::kernels::availableSgemmKernels();
  const SgemmKernel& scalar = kernels.front();
  std::printf("kernels on this CPU:");
  for (const SgemmKernel& k : kernels) std::printf(" %s", k.name);
  std::printf("; sgemm uses %s\n", lrp::kernels::sgemmKernelName());
  if (std::strcmp(lrp::kernels::sgemmKernelName(), kernels.back().name) != 0) {
    std::printf("FAIL: sgemm does not use the last available kernel\n");
    return 1;
  }
  if (argc > 1 && std::strcmp(argv[1], "--list") == 0) return 0;

  std::mt19937 rng(20240611);
  const std::vector<Shape> all = shapes(rng);
  int failures = 0;
  for (const SgemmKernel& kernel : kernels) {
    std::map<std::string, Check> byClass;
    std::mt19937 dataRng(7);
    for (const Shape& s : all) {
      const Problem p = makeProblem(s, dataRng);
      const std::vector<float> expectScalar = run(scalar, p);
      const std::vector<float> C = run(kernel, p);
      Check& check = byClass[className(s)];
      Check one;
      compare(p, C, expectScalar, one);
      check.maxError = std::max(check.maxError, one.maxError);
      check.maxScalarDiff = std::max(check.maxScalarDiff, one.maxScalarDiff);
      // Determinism: again, from another thread, and split over N at an odd point.
      if (one.failure.empty() && run(kernel, p) != C) one.failure = "a repeated call gave different bits";
      if (one.failure.empty()) {
        std::vector<float> fromThread;
        std::thread([&] { fromThread = run(kernel, p); }).join();
        if (fromThread != C) one.failure = "a call from another thread gave different bits";
      }
      if (one.failure.empty() && s.N > 1) {
        const int split = std::max(1, s.N / 2 - 3);
        if (runSplit(kernel, p, split) != C) one.failure = "splitting N at " + std::to_string(split) + " changed bits";
      }
      // B packed once: the same bits as the blocked path (M > 4, or op(A) transposed, where sgemm takes it).
      if (one.failure.empty() && kernel.micro && (s.M > 4 || s.transA || std::strcmp(kernel.name, "neon") == 0) &&
          runPackedB(kernel, p) != C)
        one.failure = "B packed once gave different bits";
      if (!one.failure.empty()) {
        ++failures;
        std::printf("FAIL %s %c%c M=%d N=%d K=%d alpha=%g beta=%g lda=%d ldb=%d ldc=%d: %s\n", kernel.name,
                    s.transA ? 'T' : 'N', s.transB ? 'T' : 'N', s.M, s.N, s.K, s.alpha, s.beta, p.lda, p.ldb, p.ldc,
                    one.failure.c_str());
      }
    }
    for (const auto& [name, check] : byClass)
      std::printf("%-9s %-9s max error vs float64 %.2e, max difference vs scalar %.2e\n", kernel.name, name.c_str(),
                  check.maxError, check.maxScalarDiff);
  }
  std::printf("%zu shapes × %zu kernels: %s\n", all.size(), kernels.size(), failures ? "FAILED" : "all passed");
  return failures ? 1 : 0;
}
