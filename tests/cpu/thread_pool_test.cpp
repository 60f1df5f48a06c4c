// Thread pool: every task runs exactly once, concurrent callers are serialized safely, nested
// calls complete, and XINHE_CPU_THREADS values are validated.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "thread_pool.h"

namespace xinhe::backends::cpu {
namespace {

// Spin 0 makes every wait go through the sleeping path; the default spins first.
class ThreadPoolSpin : public ::testing::TestWithParam<int> {};

TEST_P(ThreadPoolSpin, RunsEveryTaskExactlyOnce) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads, GetParam());
    EXPECT_EQ(pool.threads(), threads);
    for (int64_t n : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      for (auto& h : hits) h.store(0);
      pool.parallel_for(n, [&](int64_t task) { hits[static_cast<size_t>(task)].fetch_add(1); });
      for (int64_t i = 0; i < n; ++i) {
        EXPECT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "threads=" << threads << " n=" << n << " task=" << i;
      }
    }
  }
}

// Task 0 waits until another thread has started task 1: only possible when two threads run the
// region at once. Bounded wait so a broken pool fails instead of hanging.
bool two_tasks_ran_at_once(ThreadPool& pool) {
  std::atomic<bool> second_started{false};
  std::atomic<bool> saw_second{false};
  pool.parallel_for(2, [&](int64_t task) {
    if (task == 1) {
      second_started = true;
      return;
    }
    for (int i = 0; i < 2000 && !second_started; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    saw_second = second_started.load();
  });
  return saw_second.load();
}

TEST_P(ThreadPoolSpin, UsesMoreThanOneThreadWhenAsked) {
  ThreadPool pool(2, GetParam());
  EXPECT_TRUE(two_tasks_ran_at_once(pool));
}

TEST_P(ThreadPoolSpin, ConcurrentCallersFromTwoThreads) {
  ThreadPool pool(2, GetParam());
  constexpr int kRounds = 200;
  constexpr int64_t kTasks = 64;
  auto caller = [&](int64_t* out_sum) {
    int64_t total = 0;
    for (int round = 0; round < kRounds; ++round) {
      std::atomic<int64_t> sum{0};
      pool.parallel_for(kTasks, [&](int64_t task) { sum.fetch_add(task + 1); });
      total += sum.load();
    }
    *out_sum = total;
  };
  int64_t sum_a = 0, sum_b = 0;
  std::thread a(caller, &sum_a);
  std::thread b(caller, &sum_b);
  a.join();
  b.join();
  const int64_t expected = kRounds * kTasks * (kTasks + 1) / 2;
  EXPECT_EQ(sum_a, expected);
  EXPECT_EQ(sum_b, expected);
}

TEST_P(ThreadPoolSpin, NestedCallRunsInline) {
  ThreadPool pool(2, GetParam());
  std::atomic<int64_t> inner_total{0};
  pool.parallel_for(8, [&](int64_t outer) {
    pool.parallel_for(10, [&](int64_t inner) { inner_total.fetch_add(outer * 100 + inner); });
  });
  int64_t expected = 0;
  for (int64_t o = 0; o < 8; ++o)
    for (int64_t i = 0; i < 10; ++i) expected += o * 100 + i;
  EXPECT_EQ(inner_total.load(), expected);
}

// Many short regions back to back, as a GEMM issues them: results of every region are
// visible to the caller when parallel_for returns, and no region loses or repeats a task.
TEST_P(ThreadPoolSpin, BackToBackShortRegions) {
  ThreadPool pool(3, GetParam());
  std::vector<int64_t> slots(4);
  for (int round = 0; round < 20000; ++round) {
    pool.parallel_for(4, [&](int64_t task) { slots[static_cast<size_t>(task)] = round + task; });
    for (int64_t task = 0; task < 4; ++task) {
      ASSERT_EQ(slots[static_cast<size_t>(task)], round + task) << "round " << round;
    }
  }
}

// A worker that sleeps between regions (idle longer than the spin) still joins the next one.
TEST_P(ThreadPoolSpin, WorkersWakeAfterIdling) {
  ThreadPool pool(2, GetParam());
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_TRUE(two_tasks_ran_at_once(pool)) << "round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(SpinOrSleep, ThreadPoolSpin, ::testing::Values(0, ThreadPool::kDefaultSpinUs),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == 0 ? std::string("Sleep") : std::string("Spin");
                         });

// Bound: one worker per CPU when the process may use that many; unbound when asked, or when
// there are more threads than CPUs. Either way every task runs once.
TEST(ThreadPool, BindsOnlyWhenAskedAndPossible) {
  const int cores = usable_core_count();
  for (bool bind : {true, false}) {
    for (int threads : {1, 2, cores, cores + 1}) {
      ThreadPool pool(threads, ThreadPool::kDefaultSpinUs, bind);
      EXPECT_EQ(pool.bound(), bind && threads > 1 && threads <= cores)
          << "bind=" << bind << " threads=" << threads << " cores=" << cores;
      std::vector<std::atomic<int>> hits(64);
      for (auto& h : hits) h.store(0);
      pool.parallel_for(64, [&](int64_t task) { hits[static_cast<size_t>(task)].fetch_add(1); });
      for (auto& h : hits) EXPECT_EQ(h.load(), 1);
    }
  }
  std::string error;
  bool value = false;
  EXPECT_TRUE(parse_bind("1", &value, &error));
  EXPECT_TRUE(value);
  EXPECT_TRUE(parse_bind("0", &value, &error));
  EXPECT_FALSE(value);
  for (const char* bad : {"", "yes", "2", "01"}) {
    error.clear();
    EXPECT_FALSE(parse_bind(bad, &value, &error)) << bad;
    EXPECT_NE(error.find("XINHE_CPU_BIND"), std::string::npos) << error;
  }
}

TEST(ThreadPool, ParseThreadCount) {
  int threads = 0;
  std::string error;
  EXPECT_TRUE(parse_thread_count("3", &threads, &error));
  EXPECT_EQ(threads, 3);
  EXPECT_TRUE(parse_thread_count("1024", &threads, &error));
  EXPECT_EQ(threads, 1024);
  for (const char* bad : {"", "0", "-2", "abc", "4x", "1025", "99999999999999999999"}) {
    error.clear();
    EXPECT_FALSE(parse_thread_count(bad, &threads, &error)) << bad;
    EXPECT_NE(error.find("XINHE_CPU_THREADS"), std::string::npos) << error;
  }
  EXPECT_GE(usable_core_count(), 1);
}

}  // namespace
}  // namespace xinhe::backends::cpu
