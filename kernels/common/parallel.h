// Parallel-for interface the CPU kernels are written against; the CPU backend's thread pool
// implements it, and tests can pass a serial one. Keeps kernels free of backend headers.
#pragma once

#include <cstdint>
#include <functional>

namespace xinhe::kernels {

class Parallel {
 public:
  virtual ~Parallel() = default;
  // Workers that run tasks concurrently (the calling thread included).
  virtual int threads() const = 0;
  // Runs fn(task) for every task in [0, n) and returns when all have finished. Safe to call
  // from several threads at once; a call made from inside a task runs serially.
  virtual void parallel_for(int64_t n, const std::function<void(int64_t task)>& fn) = 0;
};

// Runs everything on the calling thread.
class SerialParallel final : public Parallel {
 public:
  int threads() const override { return 1; }
  void parallel_for(int64_t n, const std::function<void(int64_t)>& fn) override {
    for (int64_t i = 0; i < n; ++i) fn(i);
  }
};

}  // namespace xinhe::kernels
