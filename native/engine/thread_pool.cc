// A fixed pool of worker threads shared by every model and call; chunks queue rather than oversubscribe.
#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace lrp {

namespace {

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls `ready` for up to `limit` before the caller blocks. A layer's parallel sections follow each other within
// microseconds; sleeping on a futex between them costs a wake-up system call and a reschedule each time (a sixth of a
// batch-1 explanation). onnxruntime's pool spins in the same way.
template <typename Ready>
bool spinUntil(Ready ready, std::chrono::microseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (int i = 0;; ++i) {
    if (ready()) return true;
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) return false;
    cpuRelax();
  }
}

// An idle worker spins long enough to bridge the gap between two calls made back to back from JavaScript (the promise
// resolves, the next call reaches a libuv thread: 0.1–0.25 ms here), so a stream of batch-1 calls does not pay a
// wake-up per parallel section (mlp-784 batch 1: 0.39–0.43 → 0.27–0.31 ms). A caller waiting for the other chunks of
// its own section only needs to cover their imbalance.
constexpr std::chrono::microseconds kWorkerSpin{300}, kCallerSpin{50};

class ThreadPool {
 public:
  explicit ThreadPool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { run(); });
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void submit(std::function<void()> task) {
    bool sleeping;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks_.push_back(std::move(task));
      queued_.fetch_add(1, std::memory_order_release);
      sleeping = sleepers_ > 0;
    }
    if (sleeping) wake_.notify_one();  // a spinning worker sees the task without the futex call
  }
  // Runs one queued task on the calling thread, if any (so waiting callers help instead of idling).
  bool runOne() {
    std::function<void()> task;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (tasks_.empty()) return false;
      task = std::move(tasks_.front());
      tasks_.pop_front();
      queued_.fetch_sub(1, std::memory_order_relaxed);
    }
    task();
    return true;
  }

 private:
  void run() {
    for (;;) {
      spinUntil([this] { return queued_.load(std::memory_order_acquire) > 0 || stopping_.load(std::memory_order_relaxed); },
                kWorkerSpin);
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (tasks_.empty() && !stopping_) {
          ++sleepers_;
          wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
          --sleepers_;
        }
        if (stopping_ && tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
        queued_.fetch_sub(1, std::memory_order_relaxed);
      }
      task();
    }
  }
  std::vector<std::thread> threads_;
  std::deque<std::function<void()>> tasks_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<int> queued_{0};      // tasks_.size(), readable without the lock while spinning
  int sleepers_ = 0;                // workers blocked on wake_ (guarded by mutex_)
  std::atomic<bool> stopping_{false};
};

ThreadPool& pool() {
  // Workers = hardware threads − 1: the calling thread takes a share too. Created on first use, never destroyed
  // before exit (a function-local static is joined at exit, after every call finished).
  static ThreadPool instance(std::max(0, hardwareThreads() - 1));
  return instance;
}

}  // namespace

int hardwareThreads() {
  // Read once: glibc answers hardware_concurrency() by opening /sys/devices/system/cpu/online, three system calls
  // that parallelFor would otherwise pay on every layer (a tenth of a batch-1 explanation).
  static const int count = [] {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : int(std::min(n, 256u));
  }();
  return count;
}

void parallelFor(int64_t count, int threads, const std::function<void(int64_t, int64_t)>& fn) {
  if (count <= 0) return;
  int chunks = int(std::min<int64_t>(count, std::max(1, std::min(threads, hardwareThreads()))));
  if (chunks <= 1) {
    fn(0, count);
    return;
  }
  struct State {
    std::atomic<int> remaining;
    std::mutex mutex;
    std::condition_variable done;
    std::exception_ptr error;
  };
  auto state = std::make_shared<State>();
  state->remaining = chunks;
  auto runChunk = [state, &fn, count, chunks](int c) {
    int64_t begin = count * c / chunks, end = count * (c + 1) / chunks;
    try {
      fn(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(state->mutex);
      if (!state->error) state->error = std::current_exception();
    }
    if (--state->remaining == 0) {
      std::lock_guard<std::mutex> lock(state->mutex);
      state->done.notify_all();
    }
  };
  for (int c = 1; c < chunks; ++c) pool().submit([runChunk, c] { runChunk(c); });
  runChunk(0);
  // Help with queued work (ours or another call's) while waiting, then sleep until the last chunk ends.
  while (state->remaining.load() > 0 && pool().runOne()) {
  }
  if (!spinUntil([&] { return state->remaining.load() == 0; }, kCallerSpin)) {
    std::unique_lock<std::mutex> lock(state->mutex);
    state->done.wait(lock, [&] { return state->remaining.load() == 0; });
  }
  if (state->error) std::rethrow_exception(state->error);
}

void parallelForDynamic(int64_t count, int threads, int64_t tasks, const std::function<void(int64_t, int64_t)>& fn) {
  if (count <= 0) return;
  const int64_t chunks = std::min<int64_t>(count, std::max<int64_t>(1, tasks));
  const int runners = int(std::min<int64_t>(chunks, std::max(1, std::min(threads, hardwareThreads()))));
  if (runners <= 1) {
    fn(0, count);
    return;
  }
  // `runners` threads (the caller among them) take chunk after chunk from a shared counter.
  std::atomic<int64_t> next{0};
  parallelFor(runners, runners, [&](int64_t, int64_t) {
    for (int64_t c = next.fetch_add(1); c < chunks; c = next.fetch_add(1)) fn(count * c / chunks, count * (c + 1) / chunks);
  });
}

}  // namespace lrp
