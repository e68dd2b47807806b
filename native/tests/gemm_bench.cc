// GEMM micro-benchmark: the machine's FMA peak (a register-only FMA loop, 1 and 2 threads, per vector width) and GFLOP/s
// of every SIMD kernel the CPU runs (sgemm's choice last) at 1024³ and 128×4096×4096 with the threads splitting N as the
// engine does, plus the batch-1 and batch-4 (GEMV-like) dense cases. Each kernel is compared with the peak of its own
// vector width (ymm FMAs for avx2-fma, zmm FMAs for avx512f).
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <new>
#include <random>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../kernels/float_memory.h"
#include "../kernels/gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// Thread CPU time: on a shared machine other processes steal wall time, not thread time, so the benchmark reports
// both and uses the slowest thread's CPU time as its estimate of a quiet machine's wall time.
double threadSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct Timing {
  double wall, cpu;  // cpu: the slowest thread's CPU time
};

// Runs fn(t) on `threads` threads (t = 0 is the calling thread).
Timing timeThreads(int threads, const std::function<void(int)>& fn) {
  std::vector<double> cpu(threads, 0.0);
  auto body = [&](int t) {
    const double start = threadSeconds();
    fn(t);
    cpu[t] = threadSeconds() - start;
  };
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 1; t < threads; ++t) workers.emplace_back(body, t);
  body(0);
  for (auto& w : workers) w.join();
  return Timing{seconds(start, Clock::now()), *std::max_element(cpu.begin(), cpu.end())};
}

// 12 independent FMA chains (more than latency × 2 ports) on registers only; returns flops done.
#if defined(__x86_64__)
#define LRP_FMA12(x) \
  x##0 = _mm256_fmadd_ps(x##0, m, a); x##1 = _mm256_fmadd_ps(x##1, m, a); x##2 = _mm256_fmadd_ps(x##2, m, a); \
  x##3 = _mm256_fmadd_ps(x##3, m, a); x##4 = _mm256_fmadd_ps(x##4, m, a); x##5 = _mm256_fmadd_ps(x##5, m, a); \
  x##6 = _mm256_fmadd_ps(x##6, m, a); x##7 = _mm256_fmadd_ps(x##7, m, a); x##8 = _mm256_fmadd_ps(x##8, m, a); \
  x##9 = _mm256_fmadd_ps(x##9, m, a); x##10 = _mm256_fmadd_ps(x##10, m, a); x##11 = _mm256_fmadd_ps(x##11, m, a)
__attribute__((target("avx2,fma"))) double fmaLoop(long iterations) {
  __m256 x0 = _mm256_set1_ps(1.f), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0, x6 = x0, x7 = x0, x8 = x0, x9 = x0,
         x10 = x0, x11 = x0;
  const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-6f);
  for (long n = 0; n < iterations; ++n) {
    LRP_FMA12(x);
    __asm__ volatile("" : "+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3), "+x"(x4), "+x"(x5), "+x"(x6), "+x"(x7), "+x"(x8),
                     "+x"(x9), "+x"(x10), "+x"(x11));
  }
  float sink[8];
  _mm256_storeu_ps(sink, _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(x0, x1), _mm256_add_ps(x2, x3)),
                                       _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(x4, x5), _mm256_add_ps(x6, x7)),
                                                     _mm256_add_ps(_mm256_add_ps(x8, x9), _mm256_add_ps(x10, x11)))));
  if (sink[0] == 42.f) std::puts("");
  return double(iterations) * 12 * 8 * 2;
}
const char* kPeakUnit = "AVX2 ymm FMA";

// The same with 24 zmm chains (Zen 5 and Intel server cores have two 512-bit FMA pipes of latency 4).
#define LRP_FMA24(x) \
  x##0 = _mm512_fmadd_ps(x##0, m, a); x##1 = _mm512_fmadd_ps(x##1, m, a); x##2 = _mm512_fmadd_ps(x##2, m, a); \
  x##3 = _mm512_fmadd_ps(x##3, m, a); x##4 = _mm512_fmadd_ps(x##4, m, a); x##5 = _mm512_fmadd_ps(x##5, m, a); \
  x##6 = _mm512_fmadd_ps(x##6, m, a); x##7 = _mm512_fmadd_ps(x##7, m, a); x##8 = _mm512_fmadd_ps(x##8, m, a); \
  x##9 = _mm512_fmadd_ps(x##9, m, a); x##10 = _mm512_fmadd_ps(x##10, m, a); x##11 = _mm512_fmadd_ps(x##11, m, a); \
  x##12 = _mm512_fmadd_ps(x##12, m, a); x##13 = _mm512_fmadd_ps(x##13, m, a); x##14 = _mm512_fmadd_ps(x##14, m, a); \
  x##15 = _mm512_fmadd_ps(x##15, m, a); x##16 = _mm512_fmadd_ps(x##16, m, a); x##17 = _mm512_fmadd_ps(x##17, m, a); \
  x##18 = _mm512_fmadd_ps(x##18, m, a); x##19 = _mm512_fmadd_ps(x##19, m, a); x##20 = _mm512_fmadd_ps(x##20, m, a); \
  x##21 = _mm512_fmadd_ps(x##21, m, a); x##22 = _mm512_fmadd_ps(x##22, m, a); x##23 = _mm512_fmadd_ps(x##23, m, a)
__attribute__((target("avx512f"))) double fmaLoop512(long iterations) {
  __m512 x0 = _mm512_set1_ps(1.f), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0, x6 = x0, x7 = x0, x8 = x0, x9 = x0,
         x10 = x0, x11 = x0, x12 = x0, x13 = x0, x14 = x0, x15 = x0, x16 = x0, x17 = x0, x18 = x0, x19 = x0, x20 = x0,
         x21 = x0, x22 = x0, x23 = x0;
  const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-6f);
  for (long n = 0; n < iterations; ++n) {
    LRP_FMA24(x);
    __asm__ volatile("" : "+v"(x0), "+v"(x1), "+v"(x2), "+v"(x3), "+v"(x4), "+v"(x5), "+v"(x6), "+v"(x7), "+v"(x8),
                     "+v"(x9), "+v"(x10), "+v"(x11));  // at most 30 operands per asm statement
    __asm__ volatile("" : "+v"(x12), "+v"(x13), "+v"(x14), "+v"(x15), "+v"(x16), "+v"(x17), "+v"(x18), "+v"(x19),
                     "+v"(x20), "+v"(x21), "+v"(x22), "+v"(x23));
  }
  __m512 s = _mm512_add_ps(x0, x1);
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(x2, x3), _mm512_add_ps(x4, x5)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(x6, x7), _mm512_add_ps(x8, x9)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(x10, x11), _mm512_add_ps(x12, x13)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(x14, x15), _mm512_add_ps(x16, x17)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(x18, x19), _mm512_add_ps(x20, x21)));
  s = _mm512_add_ps(s, _mm512_add_ps(x22, x23));
  float sink[16];
  _mm512_storeu_ps(sink, s);
  if (sink[0] == 42.f) std::puts("");
  return double(iterations) * 24 * 16 * 2;
}
const char* kPeakUnit512 = "AVX-512 zmm FMA";
#elif defined(__aarch64__)
double fmaLoop(long iterations) {
  float32x4_t x[24];
  for (int i = 0; i < 24; ++i) x[i] = vdupq_n_f32(1.f + i * 1e-3f);
  const float32x4_t m = vdupq_n_f32(0.999999f), a = vdupq_n_f32(1e-6f);
  for (long n = 0; n < iterations; ++n) {
    for (int i = 0; i < 24; ++i) x[i] = vfmaq_f32(a, x[i], m);
    __asm__ volatile("" : "+w"(x[0]), "+w"(x[1]), "+w"(x[2]), "+w"(x[3]), "+w"(x[4]), "+w"(x[5]), "+w"(x[6]),
                     "+w"(x[7]), "+w"(x[8]), "+w"(x[9]), "+w"(x[10]), "+w"(x[11]));
  }
  float32x4_t s = x[0];
  for (int i = 1; i < 24; ++i) s = vaddq_f32(s, x[i]);
  if (vgetq_lane_f32(s, 0) == 42.f) std::puts("");
  return double(iterations) * 24 * 4 * 2;
}
const char* kPeakUnit = "NEON FMA";
#else
double fmaLoop(long iterations) {
  volatile float x = 1.f;
  for (long n = 0; n < iterations; ++n) x = x * 0.999999f + 1e-6f;
  return double(iterations) * 2;
}
const char* kPeakUnit = "scalar";
#endif

// The best of several runs: other processes on a shared machine only ever slow a run down.
Timing bestTiming(const std::vector<Timing>& runs) {
  Timing best = runs.front();
  for (const Timing& r : runs) best = Timing{std::min(best.wall, r.wall), std::min(best.cpu, r.cpu)};
  return best;
}

using FmaLoop = double (*)(long iterations);

// The FMA loop of a kernel's vector width.
FmaLoop peakLoopFor(const char* kernel) {
#if defined(__x86_64__)
  if (std::strcmp(kernel, "avx512f") == 0) return fmaLoop512;
#endif
  (void)kernel;
  return fmaLoop;
}

const char* peakUnitFor(const char* kernel) {
#if defined(__x86_64__)
  if (std::strcmp(kernel, "avx512f") == 0) return kPeakUnit512;
#endif
  (void)kernel;
  return kPeakUnit;
}

// GFLOP/s by wall time and by the slowest thread's CPU time.
Timing fmaPeak(FmaLoop loop, int threads) {
  const long iterations = loop == fmaLoop ? 20'000'000 : 10'000'000;
  std::vector<Timing> runs;
  for (int r = 0; r < 5; ++r) runs.push_back(timeThreads(threads, [&](int) { loop(iterations); }));
  const Timing t = bestTiming(runs);
  const double flops = loop(1) * double(iterations) * threads;  // loop(1) returns the flops of one iteration
  return Timing{flops / t.wall / 1e9, flops / t.cpu / 1e9};
}

// A float array allocated as the engine's backend allocates its buffers (allocateFloats: huge pages on Linux from
// 4 MiB), so the products run on the memory they get in the engine.
class Floats {
 public:
  explicit Floats(size_t count) : data_(lrp::kernels::allocateFloats(count, true)), count_(count) {
    if (!data_) throw std::bad_alloc();
  }
  Floats(const Floats&) = delete;
  Floats& operator=(const Floats&) = delete;
  ~Floats() { lrp::kernels::freeFloats(data_); }
  float* data() const { return data_; }
  float* begin() const { return data_; }
  float* end() const { return data_ + count_; }

 private:
  float* data_;
  size_t count_;
};

struct Matrices {
  int M, N, K;
  bool transA, transB;
  Floats A, B, C;
  Matrices(int m, int n, int k, bool ta, bool tb)
      : M(m), N(n), K(k), transA(ta), transB(tb), A(size_t(m) * k), B(size_t(k) * n), C(size_t(m) * n) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> v(-1.f, 1.f);
    for (float& x : A) x = v(rng);
    for (float& x : B) x = v(rng);
  }
};

// Best times of one C = A·B with N split into `threads` contiguous slices (like the engine's parallelFor).
Timing timeGemm(lrp::kernels::SgemmFunction sgemm, Matrices& m, int threads, int repeats) {
  const int lda = m.transA ? m.M : m.K, ldb = m.transB ? m.K : m.N;
  std::vector<Timing> runs;
  for (int r = 0; r < repeats + 1; ++r) {
    const Timing t = timeThreads(threads, [&](int t) {
      const int j0 = int(int64_t(m.N) * t / threads), j1 = int(int64_t(m.N) * (t + 1) / threads);
      const float* b = m.transB ? m.B.data() + size_t(j0) * ldb : m.B.data() + j0;
      sgemm(m.transA, m.transB, m.M, j1 - j0, m.K, 1.f, m.A.data(), lda, b, ldb, 0.f, m.C.data() + j0,
                          m.N);
    });
    if (r > 0) runs.push_back(t);  // the first run warms caches and grows the packing buffers
  }
  return bestTiming(runs);
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 5;
  std::vector<lrp::kernels::SgemmKernel> kernels;  // the SIMD ones, sgemm's choice last
  for (const auto& k : lrp::kernels::availableSgemmKernels())
    if (std::strcmp(k.name, "scalar") != 0 || lrp::kernels::availableSgemmKernels().size() == 1) kernels.push_back(k);
  std::printf("sgemm uses: %s; benchmarked:", lrp::kernels::sgemmKernelName());
  for (const auto& k : kernels) std::printf(" %s", k.name);
  std::printf("; hardware threads: %u\n", std::thread::hardware_concurrency());
  std::printf("best of several runs; GFLOP/s by wall time and [by the slowest thread's CPU time]; %% of the FMA peak of the\n"
              "kernel's vector width, measured the same way just before each case\n");
  std::vector<FmaLoop> loops;
  for (const auto& k : kernels) {
    const FmaLoop loop = peakLoopFor(k.name);
    if (std::find(loops.begin(), loops.end(), loop) != loops.end()) continue;
    loops.push_back(loop);
    for (int threads = 1; threads <= 2; ++threads) {
      const Timing peak = fmaPeak(loop, threads);
      std::printf("FMA peak (%s), %d thread%s: %.1f [%.1f] GFLOP/s\n", peakUnitFor(k.name), threads,
                  threads > 1 ? "s" : "", peak.wall, peak.cpu);
    }
  }
  struct Case {
    int M, N, K;
    bool transA, transB;
    const char* what;
  };
  const Case cases[] = {
      {1024, 1024, 1024, false, false, "NN 1024³ (conv forward)"},
      {128, 4096, 4096, false, false, "NN 128×4096×4096"},
      {1024, 1024, 1024, false, true, "NT 1024³ (dense forward)"},
      {128, 4096, 4096, false, true, "NT 128×4096×4096"},
      {1024, 1024, 1024, true, false, "TN 1024³ (conv transposed)"},
  };
  for (const Case& c : cases) {
    Matrices m(c.M, c.N, c.K, c.transA, c.transB);
    const double gflop = 2.0 * c.M * c.N * c.K / 1e9;
    for (const auto& k : kernels)
      for (int threads = 1; threads <= 2; ++threads) {
        const Timing peak = fmaPeak(peakLoopFor(k.name), threads);
        const Timing t = timeGemm(k.function, m, threads, repeats);
        std::printf("%-28s %-8s %d thread%s: %7.2f ms %6.1f GFLOP/s = %5.1f%% [%6.1f GFLOP/s = %5.1f%%] of %s peak\n",
                    c.what, k.name, threads, threads > 1 ? "s" : " ", t.wall * 1e3, gflop / t.wall,
                    100.0 * gflop / t.wall / peak.wall, gflop / t.cpu, 100.0 * gflop / t.cpu / peak.cpu,
                    peakUnitFor(k.name));
      }
  }
  // Batch 1 and 4 dense layers 4096→4096: bandwidth-bound, reported as weight bytes streamed per second.
  for (int batch : {1, 4}) {
    for (bool transB : {true, false}) {
      Matrices m(batch, 4096, 4096, false, transB);
      for (const auto& k : kernels)
        for (int threads = 1; threads <= 2; ++threads) {
          const Timing t = timeGemm(k.function, m, threads, repeats * 3);
          std::printf("%s M=%d 4096×4096 %-8s %d thread%s: %6.2f ms [%6.2f ms], weights at %5.1f [%5.1f] GB/s\n",
                      transB ? "NT" : "NN", batch, k.name, threads, threads > 1 ? "s" : " ", t.wall * 1e3, t.cpu * 1e3,
                      4096.0 * 4096 * 4 / t.wall / 1e9, 4096.0 * 4096 * 4 / t.cpu / 1e9);
        }
    }
  }
  return 0;
}
