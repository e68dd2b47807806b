// allocateFloats (float_memory.h). Measured on a Zen 3 VM (2 threads), explain calls alternating between a build with
// and one without the huge pages: resnet18-64 batch 128 ε 0.89–0.94 of the time, vgg-cifar 0.95; 800 MiB first
// touched in 110 ms instead of 560–690 with 4 KiB pages, but ~3 s on a VM whose host has taken that memory back
// (bench/results.md). The rounding to 2 MiB adds under half of an array to the address space, a little to the RSS.
#include "float_memory.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace lrp::kernels {

float* allocateFloats(size_t count, bool zeroed) {
  const size_t bytes = std::max<size_t>(count, 1) * sizeof(float);
#if defined(__linux__)
  constexpr size_t kHugePage = size_t(2) << 20;
  const bool huge = bytes >= 2 * kHugePage;
  const size_t size = huge ? (bytes + kHugePage - 1) / kHugePage * kHugePage : bytes;
  void* p = nullptr;
  if (posix_memalign(&p, huge ? kHugePage : 64, size) != 0) return nullptr;
  if (huge) madvise(p, size, MADV_HUGEPAGE);  // advice only: where it is refused, the memory still works
#else
  void* p = ::operator new(bytes, std::align_val_t(64), std::nothrow);
  if (!p) return nullptr;
#endif
  if (zeroed) std::memset(p, 0, bytes);
  return static_cast<float*>(p);
}

void freeFloats(float* p) {
#if defined(__linux__)
  std::free(p);
#else
  ::operator delete(p, std::align_val_t(64));
#endif
}

}  // namespace lrp::kernels
