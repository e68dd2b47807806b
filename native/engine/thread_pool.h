// One compute pool for the whole addon: parallelFor splits a range over its workers and the calling thread.
#pragma once
#include <cstdint>
#include <functional>

namespace lrp {

// Runs fn(begin, end) over [0, count) split into at most `threads` contiguous chunks. Results must not depend on the
// split (each index is computed independently), so outputs are identical for any thread count.
void parallelFor(int64_t count, int threads, const std::function<void(int64_t, int64_t)>& fn);

// As parallelFor, split into `tasks` contiguous chunks (at most `count`) that the pool's threads and the caller take
// as they come free: a core that is faster or less loaded (a shared VM's busy sibling, a hybrid CPU's efficiency
// cores) takes more of them instead of the others waiting for it. `threads` still bounds the threads used.
void parallelForDynamic(int64_t count, int threads, int64_t tasks, const std::function<void(int64_t, int64_t)>& fn);

// Number of workers the pool can use (hardware concurrency).
int hardwareThreads();

}  // namespace lrp
