// Thread pool for the CPU backend (see thread_pool.h for the design).
//
// Region protocol, all on atomics so that neither side takes a lock while spinning:
// - The caller marks epoch_ kPublishing, waits until no worker is inside_ (a worker can only be
//   inside a region whose tasks are all finished, so this is brief), writes fn_/size_/counters,
//   then stores the new epoch (release).
// - A worker that sees a new epoch counts itself inside_, re-reads epoch_ and takes tasks only
//   if it is still the one it saw; otherwise it leaves without touching the region. The
//   seq_cst pairs (caller: epoch_ store, inside_ load; worker: inside_ add, epoch_ load) make
//   one side always see the other.
// - The caller returns when unfinished_ reaches zero, so nothing runs fn after parallel_for
//   returns; a worker still inside an exhausted region only reads pool-owned counters.
// Sleeping uses the same pairing: a sleeper registers (sleeping_workers_, caller_sleeping_)
// before checking its condition under sleep_mutex_, and a waker checks the registration after
// changing the condition, then notifies under the mutex.
#include "thread_pool.h"

#include <pthread.h>
#include <sched.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace xinhe::backends::cpu {

namespace {
// True while this thread executes a task of some pool; nested parallel_for calls run serially.
thread_local bool t_inside_task = false;

struct InsideTaskScope {
  InsideTaskScope() : previous(t_inside_task) { t_inside_task = true; }
  ~InsideTaskScope() { t_inside_task = previous; }
  bool previous;
};

// Tells the core this is a spin-wait (saves power, yields the pipeline to an SMT sibling).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Spins until done() or spin_us microseconds have passed; returns done()'s last value.
// Past the first few checks the thread yields rather than executing PAUSE: in a VM a long
// PAUSE loop triggers pause-loop exiting, and the hypervisor deschedules the vCPU for
// milliseconds (measured here: p99 hand-off latency 2.5 ms with PAUSE, 3 us with sched_yield,
// medians 0.2-0.4 us either way). Yielding also hands the core to any other runnable thread.
template <typename Done>
bool spin_until(int spin_us, Done done) {
  if (spin_us <= 0) return done();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(spin_us);
  // A few pauses first: a region usually ends, or starts, within a microsecond or two, and a
  // yield costs a system call plus, with a thread waiting on this CPU, two context switches.
  constexpr uint32_t kPauses = 32;
  for (uint32_t i = 1;; ++i) {
    if (done()) return true;
    if (i <= kPauses) {
      cpu_relax();
      continue;
    }
    if (i % 8 == 0 && std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::yield();
  }
}
}  // namespace

// The CPUs this process may run on, in order.
std::vector<int> usable_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

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
  // Digits only: strtol alone would take " 4" and "+4" but refuse "4 ". At most 5 digits
  // are read, so neither the value nor the message grows with a hostile value.
  long value = 0;
  size_t digits = 0;
  for (; text[digits] != '\0' && digits <= 5; ++digits) {
    const char c = text[digits];
    if (c < '0' || c > '9') {
      value = -1;
      break;
    }
    value = value * 10 + (c - '0');
  }
  if (value < 1 || value > kMaxThreads || digits > 5) {
    const std::string shown(text, strnlen(text, 32));
    *error = "XINHE_CPU_THREADS='" + shown + (shown.size() == 32 ? "..." : "") +
             "' is not an integer in [1, 1024] (digits only)";
    return false;
  }
  *out_threads = static_cast<int>(value);
  return true;
}

bool parse_bind(const char* text, bool* out_bind, std::string* error) {
  const std::string value = text == nullptr ? "" : text;
  if (value == "0" || value == "1") {
    *out_bind = value == "1";
    return true;
  }
  *error = "XINHE_CPU_BIND='" + value + "' is not 0 or 1";
  return false;
}

ThreadPool::ThreadPool(int threads, int spin_us, bool bind_to_cpus)
    : threads_(threads < 1 ? 1 : threads), spin_us_(spin_us < 0 ? 0 : spin_us) {
  // Placement. Unbound, a worker woken by the caller is put on the caller's CPU (the
  // scheduler's wake-affine choice) and, since it then polls rather than sleeps, stays there:
  // both threads share one core while the other idles (seen here on most 256^3 GEMMs). So with
  // no more threads than CPUs, the pool runs one worker bound to each of `threads` CPUs and the
  // caller only hands out and waits (polling with yields, which costs a bound worker on the
  // same CPU next to nothing). Otherwise threads - 1 unbound workers and the caller compute.
  const std::vector<int> cpus = usable_cpus();
  const bool bind = bind_to_cpus && threads_ > 1 && static_cast<int>(cpus.size()) >= threads_;
  caller_computes_ = !bind;
  const int workers = bind ? threads_ : threads_ - 1;
  workers_.reserve(static_cast<size_t>(workers));
  try {
    for (int i = 0; i < workers; ++i) {
      workers_.emplace_back([this] { worker_main(); });
      if (bind) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpus[static_cast<size_t>(i)], &one);
        // A failure (a restricted container) leaves the worker unbound, which still works.
        pthread_setaffinity_np(workers_.back().native_handle(), sizeof(one), &one);
      }
    }
  } catch (...) {
    // The destructor does not run for a half-built object: stop what did start.
    stop_.store(true);
    { std::lock_guard<std::mutex> lock(sleep_mutex_); }
    work_cv_.notify_all();
    for (std::thread& worker : workers_) worker.join();
    throw;
  }
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  { std::lock_guard<std::mutex> lock(sleep_mutex_); }
  work_cv_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::run_tasks() {
  InsideTaskScope scope;
  const std::function<void(int64_t)>* fn = fn_.load(std::memory_order_relaxed);
  const int64_t size = size_.load(std::memory_order_relaxed);
  int64_t finished = 0;
  for (;;) {
    const int64_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= size) break;
    (*fn)(task);
    ++finished;
  }
  if (finished == 0) return;
  // The last finisher wakes a caller that went to sleep waiting for the region.
  if (unfinished_.fetch_sub(finished) == finished && caller_sleeping_.load()) {
    { std::lock_guard<std::mutex> lock(sleep_mutex_); }
    done_cv_.notify_one();
  }
}

uint64_t ThreadPool::wait_for_region(uint64_t seen) {
  uint64_t epoch = seen;
  auto published = [&] {
    epoch = epoch_.load();
    return stop_.load() || (epoch != seen && epoch != kPublishing);
  };
  if (spin_until(spin_us_, published)) return epoch;
  std::unique_lock<std::mutex> lock(sleep_mutex_);
  sleeping_workers_.fetch_add(1);
  work_cv_.wait(lock, published);
  sleeping_workers_.fetch_sub(1);
  return epoch;
}

void ThreadPool::worker_main() {
  uint64_t seen = 0;
  for (;;) {
    const uint64_t epoch = wait_for_region(seen);
    if (stop_.load()) return;
    inside_.fetch_add(1);
    if (epoch_.load() == epoch) run_tasks();
    inside_.fetch_sub(1, std::memory_order_release);
    seen = epoch;
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t)>& fn) {
  if (n <= 0) return;
  if (n == 1 || threads_ == 1 || t_inside_task) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::lock_guard<std::mutex> caller_lock(caller_mutex_);
  const uint64_t epoch = epoch_.load(std::memory_order_relaxed) + 1;  // only callers write it
  epoch_.store(kPublishing);
  while (inside_.load() != 0) cpu_relax();
  fn_.store(&fn, std::memory_order_relaxed);
  size_.store(n, std::memory_order_relaxed);
  next_task_.store(0, std::memory_order_relaxed);
  unfinished_.store(n, std::memory_order_relaxed);
  epoch_.store(epoch == kPublishing ? 1 : epoch);
  if (sleeping_workers_.load() > 0) {
    { std::lock_guard<std::mutex> lock(sleep_mutex_); }
    work_cv_.notify_all();
  }

  if (caller_computes_) run_tasks();

  auto finished = [&] { return unfinished_.load() == 0; };
  if (spin_until(spin_us_, finished)) return;
  std::unique_lock<std::mutex> lock(sleep_mutex_);
  caller_sleeping_.store(true);
  done_cv_.wait(lock, finished);
  caller_sleeping_.store(false);
}

}  // namespace xinhe::backends::cpu
