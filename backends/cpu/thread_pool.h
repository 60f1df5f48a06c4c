// The CPU backend's thread pool: the kernels::Parallel the CPU kernels run on (the kernel tests
// and benchmarks use it too, so they measure what the backend runs).
//
// A fixed set of worker threads (plus, when they are not bound to CPUs, the calling thread)
// execute one parallel region at a time; concurrent callers (two streams running ops) queue
// on a mutex rather than interleave, which gives each region the whole machine. Tasks are taken from a shared counter, so a worker that
// joins late (its core was busy) takes fewer tasks instead of stalling the region.
//
// Waiting spins first, then sleeps. A GEMM is a chain of regions microseconds apart (one per
// cache block); a worker asleep on a condition variable takes tens of microseconds to wake on
// a VM, by which time the caller has taken its tasks and the region ran serially. So workers
// poll the region counter for a short while after each region, yielding the core between
// polls (and the caller likewise waits for the region's end), before falling back to the
// condition variable. A parallel_for issued from
// inside a task runs serially on that thread, so nested calls cannot deadlock.
#pragma once

#include <atomic>
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

// Parses an XINHE_CPU_THREADS value: a decimal integer in [1, 1024] written with digits only
// (no sign, no blanks before or after: " 4", "+4" and "4 " are all refused alike). On failure
// returns false and sets *error to a human-readable reason.
bool parse_thread_count(const char* text, int* out_threads, std::string* error);

// Parses an XINHE_CPU_BIND value: "1" (bind the pool's workers to CPUs, the default) or "0".
// On failure returns false and sets *error.
bool parse_bind(const char* text, bool* out_bind, std::string* error);

class ThreadPool final : public kernels::Parallel {
 public:
  // threads >= 1 tasks run at once: with bind, threads workers bound one per CPU when the
  // process may use that many CPUs; otherwise the caller and threads - 1 unbound workers
  // (threads == 1: the caller alone). Idle threads poll for spin_us microseconds before they
  // sleep (0: at once).
  explicit ThreadPool(int threads, int spin_us = kDefaultSpinUs, bool bind = true);
  ~ThreadPool() override;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const override { return threads_; }
  // Whether the workers are bound to CPUs (and the caller only hands out work).
  bool bound() const { return !caller_computes_; }
  void parallel_for(int64_t n, const std::function<void(int64_t task)>& fn) override;

  // Long enough to bridge the gaps between one op's regions and between back-to-back ops;
  // short enough that an idle backend gives its cores back almost at once.
  static constexpr int kDefaultSpinUs = 200;

 private:
  void worker_main();
  // Waits until epoch_ differs from seen (or stop); returns the new epoch.
  uint64_t wait_for_region(uint64_t seen);
  // Takes tasks of the published region until none are left.
  void run_tasks();

  const int threads_;
  const int spin_us_;
  bool caller_computes_ = true;  // false when bound workers do all the tasks (see the constructor)
  std::vector<std::thread> workers_;

  std::mutex caller_mutex_;  // one parallel region at a time

  // The published region. Written by the caller only while no worker is inside_ and epoch_
  // is kPublishing, so a worker that got inside sees one consistent region.
  static constexpr uint64_t kPublishing = ~uint64_t{0};
  std::atomic<uint64_t> epoch_{0};
  std::atomic<const std::function<void(int64_t)>*> fn_{nullptr};
  std::atomic<int64_t> size_{0};
  std::atomic<int64_t> next_task_{0};
  std::atomic<int64_t> unfinished_{0};  // tasks of the region not yet finished
  std::atomic<int> inside_{0};          // workers between joining a region and leaving it

  // Sleeping: workers wait for a new epoch, the caller for unfinished_ == 0.
  std::mutex sleep_mutex_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::atomic<int> sleeping_workers_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> stop_{false};
};

}  // namespace xinhe::backends::cpu
