// Thread pool for the CPU backend (see thread_pool.h for the design).
//
// Region protocol: the caller publishes a Region under mutex_ and bumps generation_; each
// worker that wakes joins it at most once (counted in Region::inside) and takes tasks from an
// atomic counter, as does the caller. The caller returns once the counter is exhausted and
// every worker that joined has left; a worker that wakes after that finds region_ cleared, so
// nothing touches the caller's stack after parallel_for returns.
#include "thread_pool.h"

#include <sched.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>

namespace xinhe::backends::cpu {

namespace {
// True while this thread executes a task of some pool; nested parallel_for calls run serially.
thread_local bool t_inside_task = false;

struct InsideTaskScope {
  InsideTaskScope() : previous(t_inside_task) { t_inside_task = true; }
  ~InsideTaskScope() { t_inside_task = previous; }
  bool previous;
};
}  // namespace

int usable_core_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) return count;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

bool parse_thread_count(const char* text, int* out_threads, std::string* error) {
  constexpr long kMaxThreads = 1024;
  if (text == nullptr || *text == '\0') {
    *error = "XINHE_CPU_THREADS is empty; expected an integer in [1, 1024]";
    return false;
  }
  errno = 0;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < 1 || value > kMaxThreads) {
    *error = std::string("XINHE_CPU_THREADS='") + text + "' is not an integer in [1, 1024]";
    return false;
  }
  *out_threads = static_cast<int>(value);
  return true;
}

struct ThreadPool::Region {
  const std::function<void(int64_t)>* fn;
  int64_t n;
  std::atomic<int64_t> next{0};
  int inside = 0;  // workers currently in this region; guarded by ThreadPool::mutex_
};

ThreadPool::ThreadPool(int threads) : threads_(threads < 1 ? 1 : threads) {
  workers_.reserve(static_cast<size_t>(threads_ - 1));
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { worker_main(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::run_tasks(Region& region) {
  InsideTaskScope scope;
  for (;;) {
    const int64_t task = region.next.fetch_add(1, std::memory_order_relaxed);
    if (task >= region.n) return;
    (*region.fn)(task);
  }
}

void ThreadPool::worker_main() {
  uint64_t seen_generation = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [&] {
      return stop_ || (region_ != nullptr && generation_ != seen_generation);
    });
    if (stop_) return;
    seen_generation = generation_;
    Region* region = region_;
    ++region->inside;
    lock.unlock();
    run_tasks(*region);
    lock.lock();
    if (--region->inside == 0) done_cv_.notify_one();
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t)>& fn) {
  if (n <= 0) return;
  if (n == 1 || threads_ == 1 || t_inside_task) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::lock_guard<std::mutex> region_lock(region_mutex_);
  Region region;
  region.fn = &fn;
  region.n = n;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    region_ = &region;
    ++generation_;
  }
  work_cv_.notify_all();
  run_tasks(region);
  std::unique_lock<std::mutex> lock(mutex_);
  done_cv_.wait(lock, [&] { return region.inside == 0; });
  region_ = nullptr;
}

}  // namespace xinhe::backends::cpu
