// One compute pool for the whole addon: parallelFor splits a range over its workers and the calling thread.
#pragma once
#include <cstdint>
#include <functional>

namespace lrp {

// Runs fn(begin, end) over [0, count) split into at most `threads` contiguous chunks. Results must not depend on the
// split (each index is computed independently), so outputs are identical for any thread count.
void parallelFor(int64_t count, int threads, const std::function<void(int64_t, int64_t)>& fn);

// Number of workers the pool can use (hardware concurrency).
int hardwareThreads();

}  // namespace lrp
