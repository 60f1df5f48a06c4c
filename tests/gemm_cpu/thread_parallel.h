// A small persistent std::thread pool implementing kernels::Parallel, for the CPU GEMM tests
// and benchmark (which must not depend on the CPU backend's pool). Tasks are handed out
// through an atomic counter; the calling thread works too; calls from inside a task run
// serially, as the interface requires; concurrent callers take turns.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "parallel.h"

namespace xinhe::kernels::testing {

class ThreadParallel final : public Parallel {
 public:
  explicit ThreadParallel(int threads) : threads_(threads < 1 ? 1 : threads) {
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
  }
  ~ThreadParallel() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& w : workers_) w.join();
  }
  ThreadParallel(const ThreadParallel&) = delete;
  ThreadParallel& operator=(const ThreadParallel&) = delete;

  int threads() const override { return threads_; }

  void parallel_for(int64_t n, const std::function<void(int64_t)>& fn) override {
    if (n <= 0) return;
    if (in_task_ || threads_ == 1 || n == 1) {
      for (int64_t i = 0; i < n; ++i) fn(i);
      return;
    }
    std::lock_guard<std::mutex> caller(caller_mutex_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &fn;
      job_size_ = n;
      next_.store(0, std::memory_order_relaxed);
      remaining_ = n;
      ++generation_;
    }
    wake_.notify_all();
    run_tasks(fn, n);
    std::unique_lock<std::mutex> lock(mutex_);
    // Also wait for workers to let go of fn, so none can pick it up after we return.
    done_.wait(lock, [this] { return remaining_ == 0 && busy_workers_ == 0; });
    job_ = nullptr;
  }

 private:
  void run_tasks(const std::function<void(int64_t)>& fn, int64_t n) {
    in_task_ = true;
    int64_t finished = 0;
    for (int64_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < n;) {
      fn(i);
      ++finished;
    }
    in_task_ = false;
    if (finished == 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    remaining_ -= finished;
  }

  void worker_loop() {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int64_t)>* fn;
      int64_t n;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || (generation_ != seen && job_ != nullptr); });
        if (stopping_) return;
        seen = generation_;
        fn = job_;
        n = job_size_;
        ++busy_workers_;
      }
      run_tasks(*fn, n);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --busy_workers_;
      }
      done_.notify_all();
    }
  }

  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex caller_mutex_;  // one parallel_for at a time
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t job_size_ = 0;
  std::atomic<int64_t> next_{0};
  int64_t remaining_ = 0;
  int busy_workers_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
  static inline thread_local bool in_task_ = false;
};

}  // namespace xinhe::kernels::testing
