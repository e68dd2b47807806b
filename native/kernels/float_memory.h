// Memory for large float arrays (activations, packed weights): aligned for the kernels' vector loads and, on Linux,
// backed by transparent huge pages where it is large.
#pragma once

#include <cstddef>

namespace lrp::kernels {

// `count` floats, 64-byte aligned, zeroed if asked; null when the memory is not available. Arrays of 4 MiB and more are
// 2 MiB aligned and advised for transparent huge pages on Linux (THP's default `madvise` mode honours it): 4 KiB pages
// cost a TLB entry each on every pass over tens of MiB, and a fault each on first use. Free with freeFloats.
float* allocateFloats(size_t count, bool zeroed);
void freeFloats(float* p);

}  // namespace lrp::kernels
