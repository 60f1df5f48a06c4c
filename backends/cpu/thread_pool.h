// The CPU backend's thread pool: the kernels::Parallel the CPU kernels run on.
//
// A fixed set of worker threads plus the calling thread execute one parallel region at a time;
// concurrent callers (two streams running ops) queue on a mutex rather than interleave, which
// keeps per-region bookkeeping trivial and gives each region the whole machine. Idle workers
// sleep on a condition variable; nobody spins. A parallel_for issued from inside a task runs
// serially on that thread, so nested calls cannot deadlock.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "parallel.h"

namespace xinhe::backends::cpu {

// Cores this process may run on (sched_getaffinity), at least 1.
int usable_core_count();

// Parses an XINHE_CPU_THREADS value: a decimal integer in [1, 1024]. On failure returns false
// and sets *error to a human-readable reason.
bool parse_thread_count(const char* text, int* out_threads, std::string* error);

class ThreadPool final : public kernels::Parallel {
 public:
  // threads >= 1 counts the calling thread, so threads - 1 workers are started.
  explicit ThreadPool(int threads);
  ~ThreadPool() override;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const override { return threads_; }
  void parallel_for(int64_t n, const std::function<void(int64_t task)>& fn) override;

 private:
  struct Region;
  void worker_main();
  static void run_tasks(Region& region);

  const int threads_;
  std::vector<std::thread> workers_;

  std::mutex region_mutex_;  // one parallel region at a time

  std::mutex mutex_;  // guards everything below
  std::condition_variable work_cv_;  // workers: a region was published or stop
  std::condition_variable done_cv_;  // caller: the region's last worker left
  Region* region_ = nullptr;
  uint64_t generation_ = 0;  // bumped per region so a worker joins each region at most once
  bool stop_ = false;
};

}  // namespace xinhe::backends::cpu
