// "mutant": a complete, honest test backend with one switch per fault a real backend can have,
// for the mutation test of the conformance suite (tools/xinhe-conform/mutation_test.cmake).
// With no fault it passes the whole suite; with each fault the suite must report a FAIL. That
// is the proof that the suite catches what it claims to catch.
//
// The device is host memory with asynchronous in-order streams (one worker thread each), events
// with completion timestamps, GEMM and attention in f32, f16 and bf16 computed in double on the
// stream worker (results rounded to nearest even), an implementation list per op that obeys
// XINHE_GEMM_IMPL / XINHE_ATTENTION_IMPL, and a GEMM workspace it really uses.
//
// XINHE_MUTANT_FAULT selects at most one fault (an unknown name makes the backend unavailable):
//   ignore_alignment          buffers are 64-byte aligned whatever alignment is requested
//   false_min_alignment       claims min_alignment 256, places buffers 64 bytes past it
//   claims_fp64               claims f64 (dtype_caps, XINHE_DEVICE_FLAG_FP64), computes it in f32
//   f64_ignores_transpose     claims f64, computes it in double, but as if trans_a = trans_b = 0
//   elapsed_zero              event_elapsed_ms always 0
//   stream_query_done         stream_query always "done"
//   event_query_done          event_query always "done"
//   stream_wait_noop          stream_wait_event does nothing
//   ignore_impl_filter        XINHE_GEMM_IMPL and XINHE_ATTENTION_IMPL ignored
//   workspace_ignores_offset  the GEMM uses its workspace from the buffer's start
//   f16_truncate              f16 results rounded toward zero
//   stream_destroy_nowait     stream_destroy returns with work still queued
//   attention_prescale        softmax in f32 with scale * log2(e) folded into Q before the max
//   attention_masked_nan      a row that sees no key comes out NaN
//   gemm_alpha0_reads_ab      alpha == 0 computes 0 * (A B)
//   gemm_beta0_reads_c        beta == 0 computes beta * C
//   crash_on_d80              attention with head_dim 80 dereferences NULL on the worker
//   f16c_dense_ld             f16 -> f16 GEMM assumes lda, ldb and ldc are the minimum
//   bf16f32_dense_ld          bf16 -> f32 GEMM assumes lda, ldb and ldc are the minimum
//   f16f32_ab_offset0         f16 -> f32 GEMM ignores A's and B's byte offsets
//   f16c_f16_accum_k16        f16 -> f16 GEMM sums each 16-long K chunk in f16 (chunks in f32)
//   d2d_src_offset0           device-to-device copies ignore the source offset
//   copy_round64              host-to-device and device-to-device copies write whole 64-byte
//                             bursts: the bytes after the range, up to a multiple of 64, become 0
//   attn_v_uses_k_strides     attention indexes V with K's strides
//   attn_unit_dstride         attention assumes head-dim stride 1 for Q, K, V and O
//   attn_q_offset0            attention ignores Q's byte offset
// and one honest limit, not a fault:
//   declines_d80              attention with head_dim 80 is declined at check with a reason
//                             (a declined shape of a claimed dtype: UNSUPPORTED, less coverage)
//
// Plugins do not link libxinhe: statuses come from the host API given to backend_create.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "half.h"
#include "xinhe/backend.hpp"

namespace {

enum class Fault {
  kNone,
  kIgnoreAlignment,
  kFalseMinAlignment,
  kClaimsFp64,
  kF64IgnoresTranspose,
  kElapsedZero,
  kStreamQueryDone,
  kEventQueryDone,
  kStreamWaitNoop,
  kIgnoreImplFilter,
  kWorkspaceIgnoresOffset,
  kF16Truncate,
  kStreamDestroyNowait,
  kAttentionPrescale,
  kAttentionMaskedNan,
  kGemmAlpha0ReadsAb,
  kGemmBeta0ReadsC,
  kCrashOnD80,
  kF16cDenseLd,
  kBf16f32DenseLd,
  kF16f32AbOffset0,
  kF16cF16AccumK16,
  kD2dSrcOffset0,
  kCopyRound64,
  kAttnVUsesKStrides,
  kAttnUnitDstride,
  kAttnQOffset0,
  kDeclinesD80,
};

const struct {
  const char* name;
  Fault fault;
} kFaults[] = {
    {"ignore_alignment", Fault::kIgnoreAlignment},
    {"false_min_alignment", Fault::kFalseMinAlignment},
    {"claims_fp64", Fault::kClaimsFp64},
    {"f64_ignores_transpose", Fault::kF64IgnoresTranspose},
    {"elapsed_zero", Fault::kElapsedZero},
    {"stream_query_done", Fault::kStreamQueryDone},
    {"event_query_done", Fault::kEventQueryDone},
    {"stream_wait_noop", Fault::kStreamWaitNoop},
    {"ignore_impl_filter", Fault::kIgnoreImplFilter},
    {"workspace_ignores_offset", Fault::kWorkspaceIgnoresOffset},
    {"f16_truncate", Fault::kF16Truncate},
    {"stream_destroy_nowait", Fault::kStreamDestroyNowait},
    {"attention_prescale", Fault::kAttentionPrescale},
    {"attention_masked_nan", Fault::kAttentionMaskedNan},
    {"gemm_alpha0_reads_ab", Fault::kGemmAlpha0ReadsAb},
    {"gemm_beta0_reads_c", Fault::kGemmBeta0ReadsC},
    {"crash_on_d80", Fault::kCrashOnD80},
    {"f16c_dense_ld", Fault::kF16cDenseLd},
    {"bf16f32_dense_ld", Fault::kBf16f32DenseLd},
    {"f16f32_ab_offset0", Fault::kF16f32AbOffset0},
    {"f16c_f16_accum_k16", Fault::kF16cF16AccumK16},
    {"d2d_src_offset0", Fault::kD2dSrcOffset0},
    {"copy_round64", Fault::kCopyRound64},
    {"attn_v_uses_k_strides", Fault::kAttnVUsesKStrides},
    {"attn_unit_dstride", Fault::kAttnUnitDstride},
    {"attn_q_offset0", Fault::kAttnQOffset0},
    {"declines_d80", Fault::kDeclinesD80},
};

constexpr char kName[] = "mutant";
constexpr uint64_t kMinAlignment = 64;
constexpr uint64_t kTotalMemory = uint64_t{8} << 30;
constexpr uint64_t kGemmWorkspaceBytes = 256;
// Allocated past every buffer's end, so that copy_round64's overrun stays in the allocation.
constexpr uint64_t kSlackBytes = 64;

Fault g_fault = Fault::kNone;
const xinhe_host_api_t* g_host = nullptr;

bool fault(Fault f) { return g_fault == f; }

xinhe_status_t error(xinhe_status_code_t code, const char* call, const std::string& message) {
  return g_host->status_new(code, kName, call, __FILE__, __LINE__, message.c_str());
}

}  // namespace

struct xinhe_be_backend_s {
  int unused;
};
struct xinhe_be_device_s {
  int unused;
};
struct xinhe_be_buffer_s {
  void* allocation;     // what posix_memalign returned
  unsigned char* data;  // the buffer's first byte
};

// Work queue of a stream; shared with its worker so a detached worker (stream_destroy_nowait)
// keeps a valid queue.
struct Queue {
  std::mutex mutex;
  std::condition_variable work_cv, idle_cv;
  // An item and what runs under the queue's lock once it is counted completed (an event
  // marker's signal), so that the event and the stream never disagree about it.
  struct Item {
    std::function<void()> run;
    std::function<void()> after_completed;
  };
  std::deque<Item> items;
  uint64_t submitted = 0, completed = 0;
  bool stop = false;
};

struct xinhe_be_stream_s {
  std::shared_ptr<Queue> queue;
  std::thread worker;
};

// One record of an event; a wait, query or synchronize waits for the latest record at its call,
// so a later re-record (on any stream) does not release it.
struct EventMarker {
  bool done = false;
  std::chrono::steady_clock::time_point done_at{};
};
struct EventState {
  std::mutex mutex;
  std::condition_variable cv;
  std::shared_ptr<EventMarker> latest;  // null: never recorded
};
struct xinhe_be_event_s {
  std::shared_ptr<EventState> state;
};

struct xinhe_be_op_s {
  xinhe_op_kind_t kind;
  xinhe_gemm_desc_t gemm;
  xinhe_attention_desc_t attention;
  std::string impl;    // chosen implementation; empty when none
  std::string reason;  // why none
};

namespace {

// ---- Streams: a worker thread runs queued work in order -----------------------------------

void worker_main(std::shared_ptr<Queue> q) {
  std::unique_lock<std::mutex> lock(q->mutex);
  for (;;) {
    q->work_cv.wait(lock, [&] { return q->stop || !q->items.empty(); });
    if (q->items.empty()) return;  // stop requested and drained
    Queue::Item item = std::move(q->items.front());
    q->items.pop_front();
    lock.unlock();
    if (item.run) item.run();
    lock.lock();
    ++q->completed;
    if (item.after_completed) item.after_completed();
    q->idle_cv.notify_all();
  }
}

xinhe_status_t enqueue(xinhe_be_stream_t stream, std::function<void()> item,
                       std::function<void()> after_completed = nullptr) {
  {
    std::lock_guard<std::mutex> lock(stream->queue->mutex);
    stream->queue->items.push_back({std::move(item), std::move(after_completed)});
    ++stream->queue->submitted;
  }
  stream->queue->work_cv.notify_one();
  return nullptr;
}

unsigned char* at(xinhe_be_mem_t mem) {
  return mem.buffer == nullptr ? nullptr : mem.buffer->data + mem.offset;
}

// ---- Element access ---------------------------------------------------------------------------

double load(xinhe_dtype_t dtype, const void* base, int64_t i) {
  switch (dtype) {
    case XINHE_DTYPE_F16:
      return xinhe::kernels::f16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case XINHE_DTYPE_BF16:
      return xinhe::kernels::bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case XINHE_DTYPE_F64:
      return static_cast<const double*>(base)[i];
    default:
      return static_cast<const float*>(base)[i];
  }
}

uint16_t f16_truncated(float v) {
  // Round toward zero: the nearest f16, one step back toward zero when it lies beyond v (f16
  // is sign-magnitude, so that step is the magnitude minus one).
  uint16_t h = xinhe::kernels::f32_to_f16(v);
  const float back = xinhe::kernels::f16_to_f32(h);
  if (!std::isnan(v) && std::fabs(back) > std::fabs(v)) --h;
  return h;
}

void store(xinhe_dtype_t dtype, void* base, int64_t i, double v) {
  switch (dtype) {
    case XINHE_DTYPE_F16: {
      const float f = static_cast<float>(v);
      static_cast<uint16_t*>(base)[i] =
          fault(Fault::kF16Truncate) ? f16_truncated(f) : xinhe::kernels::f32_to_f16(f);
      break;
    }
    case XINHE_DTYPE_BF16:
      static_cast<uint16_t*>(base)[i] = xinhe::kernels::f32_to_bf16(static_cast<float>(v));
      break;
    case XINHE_DTYPE_F64:
      static_cast<double*>(base)[i] = fault(Fault::kClaimsFp64) ? static_cast<float>(v) : v;
      break;
    default:
      static_cast<float*>(base)[i] = static_cast<float>(v);
      break;
  }
}

// ---- Backend and device ---------------------------------------------------------------------

xinhe_status_t backend_create(const xinhe_host_api_t* host, xinhe_be_backend_t* out_backend) {
  g_host = host;
  const char* requested = std::getenv("XINHE_MUTANT_FAULT");
  g_fault = Fault::kNone;
  if (requested != nullptr && *requested != '\0' && std::string(requested) != "none") {
    bool known = false;
    std::string names;
    for (const auto& f : kFaults) {
      names += std::string(names.empty() ? "" : ", ") + f.name;
      if (std::string(requested) == f.name) g_fault = f.fault, known = true;
    }
    if (!known)
      return error(
          XINHE_STATUS_UNAVAILABLE, "backend_create",
          std::string("unknown XINHE_MUTANT_FAULT '") + requested + "' (known: " + names + ")");
  }
  *out_backend = new xinhe_be_backend_s{0};
  return nullptr;
}

void backend_destroy(xinhe_be_backend_t backend) { delete backend; }

xinhe_status_t device_count(xinhe_be_backend_t, uint32_t* out_count) {
  *out_count = 1;
  return nullptr;
}

xinhe_status_t device_open(xinhe_be_backend_t, uint32_t, xinhe_be_device_t* out_device) {
  *out_device = new xinhe_be_device_s{0};
  return nullptr;
}

void device_close(xinhe_be_device_t device) { delete device; }

const char* fault_name() {
  for (const auto& f : kFaults)
    if (f.fault == g_fault) return f.name;
  return "none";
}

xinhe_status_t device_properties(xinhe_be_device_t, xinhe_device_properties_t* out) {
  std::snprintf(out->description, sizeof(out->description),
                "xinhe mutation-test device (fault: %s)", fault_name());
  std::snprintf(out->vendor, sizeof(out->vendor), "xinhe tests");
  std::snprintf(out->driver_version, sizeof(out->driver_version), "1.0");
  out->total_memory = kTotalMemory;
  out->compute_units = 1;
  out->flags = XINHE_DEVICE_FLAG_HOST_MEMORY | XINHE_DEVICE_FLAG_TIMING;
  out->dtype_caps = XINHE_DTYPE_CAP(XINHE_DTYPE_F32) | XINHE_DTYPE_CAP(XINHE_DTYPE_F16) |
                    XINHE_DTYPE_CAP(XINHE_DTYPE_BF16);
  if (fault(Fault::kClaimsFp64) || fault(Fault::kF64IgnoresTranspose)) {
    out->flags |= XINHE_DEVICE_FLAG_FP64;
    out->dtype_caps |= XINHE_DTYPE_CAP(XINHE_DTYPE_F64);
  }
  out->min_alignment = fault(Fault::kFalseMinAlignment) ? 256 : kMinAlignment;
  return nullptr;
}

// ---- Memory ---------------------------------------------------------------------------------

xinhe_status_t buffer_alloc(xinhe_be_device_t, uint64_t size, uint64_t alignment,
                            xinhe_be_buffer_t* out_buffer) {
  if (size > kTotalMemory)
    return error(XINHE_STATUS_OUT_OF_MEMORY, "buffer_alloc",
                 "size " + std::to_string(size) + " exceeds the device's memory");
  if (alignment > kTotalMemory)
    return error(XINHE_STATUS_UNIMPLEMENTED, "buffer_alloc",
                 "alignment " + std::to_string(alignment) + " exceeds the device's memory");
  // The faults place the buffer 64 bytes past a boundary of twice (or four times) 64.
  uint64_t base_alignment = alignment, skew = 0;
  if (fault(Fault::kIgnoreAlignment) && alignment > kMinAlignment) base_alignment = 128, skew = 64;
  if (fault(Fault::kFalseMinAlignment) && alignment <= 256) base_alignment = 256, skew = 64;
  void* allocation = nullptr;
  if (posix_memalign(&allocation, static_cast<size_t>(base_alignment),
                     static_cast<size_t>(size + skew + kSlackBytes)) != 0)
    return error(XINHE_STATUS_OUT_OF_MEMORY, "posix_memalign", "out of memory");
  *out_buffer = new xinhe_be_buffer_s{allocation, static_cast<unsigned char*>(allocation) + skew};
  return nullptr;
}

void buffer_free(xinhe_be_buffer_t buffer) {
  std::free(buffer->allocation);
  delete buffer;
}

xinhe_status_t buffer_address(xinhe_be_buffer_t buffer, uint64_t* out_address) {
  *out_address = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(buffer->data));
  return nullptr;
}

// ---- Streams --------------------------------------------------------------------------------

xinhe_status_t stream_create(xinhe_be_device_t, xinhe_be_stream_t* out_stream) {
  auto* stream = new xinhe_be_stream_s;
  stream->queue = std::make_shared<Queue>();
  stream->worker = std::thread(worker_main, stream->queue);
  *out_stream = stream;
  return nullptr;
}

void stream_destroy(xinhe_be_stream_t stream) {
  {
    std::lock_guard<std::mutex> lock(stream->queue->mutex);
    stream->queue->stop = true;
  }
  stream->queue->work_cv.notify_one();
  if (fault(Fault::kStreamDestroyNowait))
    stream->worker.detach();  // the queued work still runs, after the caller moved on
  else
    stream->worker.join();
  delete stream;
}

xinhe_status_t stream_synchronize(xinhe_be_stream_t stream) {
  Queue& q = *stream->queue;
  std::unique_lock<std::mutex> lock(q.mutex);
  const uint64_t target = q.submitted;
  q.idle_cv.wait(lock, [&] { return q.completed >= target; });
  return nullptr;
}

xinhe_status_t stream_query(xinhe_be_stream_t stream, int* out_done) {
  std::lock_guard<std::mutex> lock(stream->queue->mutex);
  *out_done =
      fault(Fault::kStreamQueryDone) || stream->queue->completed == stream->queue->submitted;
  return nullptr;
}

// ---- Copies ---------------------------------------------------------------------------------

xinhe_status_t copy_host_to_device(xinhe_be_stream_t stream, xinhe_be_mem_t dst, const void* src,
                                   uint64_t size) {
  unsigned char* d = at(dst);
  const uint64_t tail = fault(Fault::kCopyRound64) ? (64 - size % 64) % 64 : 0;
  return enqueue(stream, [d, src, size, tail] {
    std::memcpy(d, src, size);
    std::memset(d + size, 0, tail);
  });
}
xinhe_status_t copy_device_to_host(xinhe_be_stream_t stream, void* dst, xinhe_be_mem_t src,
                                   uint64_t size) {
  const unsigned char* s = at(src);
  return enqueue(stream, [dst, s, size] { std::memcpy(dst, s, size); });
}
xinhe_status_t copy_device_to_device(xinhe_be_stream_t stream, xinhe_be_mem_t dst,
                                     xinhe_be_mem_t src, uint64_t size) {
  if (fault(Fault::kD2dSrcOffset0)) src.offset = 0;
  unsigned char* d = at(dst);
  const unsigned char* s = at(src);
  const uint64_t tail = fault(Fault::kCopyRound64) ? (64 - size % 64) % 64 : 0;
  return enqueue(stream, [d, s, size, tail] {
    std::memmove(d, s, size);
    std::memset(d + size, 0, tail);
  });
}
xinhe_status_t fill(xinhe_be_stream_t stream, xinhe_be_mem_t dst, uint64_t size,
                    const void* pattern, uint32_t pattern_size) {
  unsigned char* d = at(dst);
  uint32_t value = 0;
  std::memcpy(&value, pattern, pattern_size);
  return enqueue(stream, [d, size, value, pattern_size] {
    for (uint64_t i = 0; i < size; i += pattern_size) std::memcpy(d + i, &value, pattern_size);
  });
}

// ---- Events ---------------------------------------------------------------------------------

xinhe_status_t event_create(xinhe_be_device_t, xinhe_be_event_t* out_event) {
  *out_event = new xinhe_be_event_s{std::make_shared<EventState>()};
  return nullptr;
}
void event_destroy(xinhe_be_event_t event) { delete event; }

xinhe_status_t event_record(xinhe_be_event_t event, xinhe_be_stream_t stream) {
  std::shared_ptr<EventState> state = event->state;
  auto marker = std::make_shared<EventMarker>();
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    state->latest = marker;
  }
  return enqueue(stream, nullptr, [state, marker] {
    {
      std::lock_guard<std::mutex> lock(state->mutex);
      marker->done = true;
      marker->done_at = std::chrono::steady_clock::now();
    }
    state->cv.notify_all();
  });
}

xinhe_status_t stream_wait_event(xinhe_be_stream_t stream, xinhe_be_event_t event) {
  if (fault(Fault::kStreamWaitNoop)) return nullptr;
  std::shared_ptr<EventState> state = event->state;
  std::shared_ptr<EventMarker> marker;
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    marker = state->latest;
  }
  if (marker == nullptr) return nullptr;
  return enqueue(stream, [state, marker] {
    std::unique_lock<std::mutex> lock(state->mutex);
    state->cv.wait(lock, [&] { return marker->done; });
  });
}

xinhe_status_t event_synchronize(xinhe_be_event_t event) {
  EventState& s = *event->state;
  std::unique_lock<std::mutex> lock(s.mutex);
  const std::shared_ptr<EventMarker> marker = s.latest;
  if (marker != nullptr) s.cv.wait(lock, [&] { return marker->done; });
  return nullptr;
}

xinhe_status_t event_query(xinhe_be_event_t event, int* out_done) {
  std::lock_guard<std::mutex> lock(event->state->mutex);
  const std::shared_ptr<EventMarker>& latest = event->state->latest;
  *out_done = fault(Fault::kEventQueryDone) || latest == nullptr || latest->done;
  return nullptr;
}

xinhe_status_t event_elapsed_ms(xinhe_be_event_t start, xinhe_be_event_t end, float* out_ms) {
  std::chrono::steady_clock::time_point t0, t1;
  {
    std::lock_guard<std::mutex> lock(start->state->mutex);
    if (start->state->latest) t0 = start->state->latest->done_at;
  }
  {
    std::lock_guard<std::mutex> lock(end->state->mutex);
    if (end->state->latest) t1 = end->state->latest->done_at;
  }
  *out_ms =
      fault(Fault::kElapsedZero) ? 0.0f : std::chrono::duration<float, std::milli>(t1 - t0).count();
  return nullptr;
}

// ---- Ops ------------------------------------------------------------------------------------

bool runs_dtype(xinhe_dtype_t dtype) {
  return dtype == XINHE_DTYPE_F32 || dtype == XINHE_DTYPE_F16 || dtype == XINHE_DTYPE_BF16 ||
         (dtype == XINHE_DTYPE_F64 &&
          (fault(Fault::kClaimsFp64) || fault(Fault::kF64IgnoresTranspose)));
}

// Walks the op's implementation list with the filter the core serves (host->impl_filter), as
// every backend must.
void select(xinhe_be_op_t op, const std::vector<std::string>& impls, xinhe_op_kind_t kind,
            bool dtype_ok) {
  const char* variable = xinhe::backend::filter_variable(kind);
  const char* filter =
      fault(Fault::kIgnoreImplFilter) ? nullptr : xinhe::backend::host_impl_filter(g_host, kind);
  if (!dtype_ok) {
    op->reason = "the mutant device runs f32, f16 and bf16 only";
    return;
  }
  for (const std::string& impl : impls) {
    if (filter == nullptr || impl.find(filter) != std::string::npos) {
      op->impl = impl;
      return;
    }
  }
  op->reason = std::string("no implementation matches ") + variable + "=" + filter;
}

xinhe_status_t op_create(xinhe_be_device_t, const xinhe_be_op_desc_t* desc, xinhe_be_op_t* out) {
  auto* op = new xinhe_be_op_s{};
  op->kind = desc->kind;
  if (desc->kind == XINHE_OP_GEMM) {
    op->gemm = *desc->gemm;
    select(op, {"mutant.gemm.blocked", "mutant.gemm.reference"}, XINHE_OP_GEMM,
           runs_dtype(op->gemm.ab_dtype) && runs_dtype(op->gemm.c_dtype));
  } else {
    op->attention = *desc->attention;
    select(op, {"mutant.attention.reference"}, XINHE_OP_ATTENTION, runs_dtype(op->attention.dtype));
    if (fault(Fault::kDeclinesD80) && op->attention.head_dim == 80) {
      op->impl.clear();
      op->reason = "the mutant declines head_dim 80 (a documented limit)";
    }
  }
  *out = op;
  return nullptr;
}
void op_destroy(xinhe_be_op_t op) { delete op; }
xinhe_status_t op_check(xinhe_be_op_t op) {
  return op->impl.empty() ? error(XINHE_STATUS_UNIMPLEMENTED, "op_check", op->reason) : nullptr;
}
xinhe_status_t op_workspace_size(xinhe_be_op_t op, uint64_t* out_bytes) {
  *out_bytes = op->kind == XINHE_OP_GEMM && !op->impl.empty() ? kGemmWorkspaceBytes : 0;
  return nullptr;
}
const char* op_impl_name(xinhe_be_op_t op) { return op->impl.empty() ? kName : op->impl.c_str(); }

// C = alpha op(A) op(B) + beta C in double, each dot product staged through the workspace.
void gemm(const xinhe_gemm_desc_t& desc, const void* a, const void* b, void* c, float alpha,
          float beta, unsigned char* workspace) {
  xinhe_gemm_desc_t d = desc;
  if ((fault(Fault::kF16cDenseLd) && d.ab_dtype == XINHE_DTYPE_F16 &&
       d.c_dtype == XINHE_DTYPE_F16) ||
      (fault(Fault::kBf16f32DenseLd) && d.ab_dtype == XINHE_DTYPE_BF16 &&
       d.c_dtype == XINHE_DTYPE_F32)) {
    d.lda = d.trans_a ? d.m : d.k;
    d.ldb = d.trans_b ? d.k : d.n;
    d.ldc = d.n;
  }
  // Each 16-long chunk of the K loop summed in f16 (as f16 FMA units do), the chunks in f32.
  const bool f16_chunks = fault(Fault::kF16cF16AccumK16) && d.ab_dtype == XINHE_DTYPE_F16 &&
                          d.c_dtype == XINHE_DTYPE_F16;
  const auto to_f16 = [](double v) {
    const uint16_t h = xinhe::kernels::f32_to_f16(static_cast<float>(v));
    return static_cast<double>(xinhe::kernels::f16_to_f32(h));
  };
  const bool f32_only = d.ab_dtype == XINHE_DTYPE_F64 && fault(Fault::kClaimsFp64);
  // The untransposed dense product: what a kernel that drops the flags computes.
  const bool nn_only = d.ab_dtype == XINHE_DTYPE_F64 && fault(Fault::kF64IgnoresTranspose);
  const auto esize = [](xinhe_dtype_t t) -> size_t {
    return t == XINHE_DTYPE_F16 || t == XINHE_DTYPE_BF16 ? 2 : t == XINHE_DTYPE_F64 ? 8 : 4;
  };
  const size_t ab_size = esize(d.ab_dtype);
  const size_t c_size = esize(d.c_dtype);
  for (int64_t bt = 0; bt < d.batch; ++bt) {
    const unsigned char* ab = static_cast<const unsigned char*>(a) + bt * d.stride_a * ab_size;
    const unsigned char* bb = static_cast<const unsigned char*>(b) + bt * d.stride_b * ab_size;
    unsigned char* cb = static_cast<unsigned char*>(c) + bt * d.stride_c * c_size;
    for (int64_t i = 0; i < d.m; ++i) {
      for (int64_t j = 0; j < d.n; ++j) {
        const int64_t ci = i * d.ldc + j;
        const bool blas_trivial = (alpha == 0.0f || d.k == 0) && !fault(Fault::kGemmAlpha0ReadsAb);
        double acc = 0.0, chunk = 0.0;
        if (!blas_trivial) {
          for (int64_t p = 0; p < d.k; ++p) {
            const double av =
                nn_only ? load(d.ab_dtype, ab, i * d.k + p)
                        : load(d.ab_dtype, ab, d.trans_a ? p * d.lda + i : i * d.lda + p);
            const double bv =
                nn_only ? load(d.ab_dtype, bb, p * d.n + j)
                        : load(d.ab_dtype, bb, d.trans_b ? j * d.ldb + p : p * d.ldb + j);
            if (f16_chunks) {
              chunk = to_f16(chunk + av * bv);
              if (p % 16 == 15 || p == d.k - 1) acc = static_cast<float>(acc + chunk), chunk = 0.0;
              continue;
            }
            acc = f32_only
                      ? static_cast<float>(acc + static_cast<float>(av) * static_cast<float>(bv))
                      : acc + av * bv;
          }
        }
        std::memcpy(workspace + kGemmWorkspaceBytes - sizeof(acc), &acc, sizeof(acc));
        std::memcpy(&acc, workspace + kGemmWorkspaceBytes - sizeof(acc), sizeof(acc));
        const bool read_c = beta != 0.0f || fault(Fault::kGemmBeta0ReadsC);
        const double c_old = read_c ? load(d.c_dtype, cb, ci) : 0.0;
        double out;
        if (blas_trivial)
          out = beta == 0.0f ? 0.0 : static_cast<double>(beta) * c_old;
        else
          out = static_cast<double>(alpha) * acc + (read_c ? beta * c_old : 0.0);
        store(d.c_dtype, cb, ci, out);
      }
    }
  }
}

void attention(const xinhe_attention_desc_t& desc, const void* q, const void* k, const void* v,
               void* o, float* lse) {
  xinhe_attention_desc_t d = desc;
  if (fault(Fault::kAttnVUsesKStrides)) std::memcpy(d.v_strides, d.k_strides, sizeof(d.k_strides));
  if (fault(Fault::kAttnUnitDstride))
    d.q_strides[3] = d.k_strides[3] = d.v_strides[3] = d.o_strides[3] = 1;
  if (fault(Fault::kCrashOnD80) && d.head_dim == 80) {
    volatile int* nowhere = nullptr;
    *nowhere = 1;  // the deliberate crash the conformance runner must survive
  }
  const bool f32_math =
      fault(Fault::kAttentionPrescale) || (d.dtype == XINHE_DTYPE_F64 && fault(Fault::kClaimsFp64));
  const int64_t group = d.heads_kv > 0 ? d.heads_q / d.heads_kv : 1;
  std::vector<double> scores(static_cast<size_t>(d.seq_kv));
  for (int64_t b = 0; b < d.batch; ++b) {
    for (int64_t h = 0; h < d.heads_q; ++h) {
      const int64_t hk = h / group;
      for (int64_t i = 0; i < d.seq_q; ++i) {
        const int64_t q_row = b * d.q_strides[0] + h * d.q_strides[1] + i * d.q_strides[2];
        const int64_t o_row = b * d.o_strides[0] + h * d.o_strides[1] + i * d.o_strides[2];
        int64_t visible = d.seq_kv;
        if (d.mask == XINHE_ATTENTION_MASK_CAUSAL)
          visible = std::min<int64_t>(d.seq_kv, std::max<int64_t>(0, i + d.seq_kv - d.seq_q + 1));
        double m = -INFINITY, l = 0.0;
        for (int64_t j = 0; j < visible; ++j) {
          const int64_t k_row = b * d.k_strides[0] + hk * d.k_strides[1] + j * d.k_strides[2];
          double dot = 0.0;
          if (f32_math) {
            // scale * log2(e) folded into Q, rounded to f32, then softmax in base 2.
            const float q_scale = d.scale * 1.44269504f;
            float s = 0.0f;
            for (int64_t x = 0; x < d.head_dim; ++x)
              s += static_cast<float>(load(d.dtype, q, q_row + x * d.q_strides[3])) * q_scale *
                   static_cast<float>(load(d.dtype, k, k_row + x * d.k_strides[3]));
            dot = s;
          } else {
            for (int64_t x = 0; x < d.head_dim; ++x)
              dot += load(d.dtype, q, q_row + x * d.q_strides[3]) *
                     load(d.dtype, k, k_row + x * d.k_strides[3]);
            dot *= d.scale;
          }
          scores[static_cast<size_t>(j)] = dot;
          m = std::max(m, dot);
        }
        for (int64_t j = 0; j < visible; ++j) {
          double& s = scores[static_cast<size_t>(j)];
          s = f32_math ? std::exp2(static_cast<float>(s - m)) : std::exp(s - m);
          l += s;
        }
        for (int64_t x = 0; x < d.head_dim; ++x) {
          double acc = 0.0;
          for (int64_t j = 0; j < visible; ++j) {
            const int64_t v_row = b * d.v_strides[0] + hk * d.v_strides[1] + j * d.v_strides[2];
            acc += scores[static_cast<size_t>(j)] * load(d.dtype, v, v_row + x * d.v_strides[3]);
          }
          double out = visible > 0 ? acc / l : 0.0;
          if (visible == 0 && fault(Fault::kAttentionMaskedNan)) out = NAN;
          store(d.dtype, o, o_row + x * d.o_strides[3], out);
        }
        if (lse != nullptr) {
          const double value = visible == 0 ? -INFINITY
                               : f32_math   ? m * 0.69314718 + std::log(l)
                                            : m + std::log(l);
          lse[b * d.lse_strides[0] + h * d.lse_strides[1] + i * d.lse_strides[2]] =
              static_cast<float>(value);
        }
      }
    }
  }
}

xinhe_status_t op_run(xinhe_be_op_t op, xinhe_be_stream_t stream, const xinhe_be_op_args_t* args) {
  if (op->impl.empty()) return op_check(op);
  const xinhe_be_mem_t* mem = args->mem;
  if (op->kind == XINHE_OP_GEMM) {
    const xinhe_gemm_desc_t d = op->gemm;  // copied: the op may be destroyed while queued
    if (d.m == 0 || d.n == 0) return nullptr;
    xinhe_be_mem_t ws = mem[XINHE_GEMM_ARG_WORKSPACE];
    if (fault(Fault::kWorkspaceIgnoresOffset)) ws.offset = 0;
    unsigned char* workspace = at(ws);
    if (workspace == nullptr) return error(XINHE_STATUS_INTERNAL, "op_run", "no workspace");
    xinhe_be_mem_t a_mem = mem[XINHE_GEMM_ARG_A], b_mem = mem[XINHE_GEMM_ARG_B];
    if (fault(Fault::kF16f32AbOffset0) && d.ab_dtype == XINHE_DTYPE_F16 &&
        d.c_dtype == XINHE_DTYPE_F32)
      a_mem.offset = b_mem.offset = 0;
    const void* a = at(a_mem);
    const void* b = at(b_mem);
    void* c = at(mem[XINHE_GEMM_ARG_C]);
    const float alpha = args->alpha, beta = args->beta;
    return enqueue(
        stream, [d, a, b, c, alpha, beta, workspace] { gemm(d, a, b, c, alpha, beta, workspace); });
  }
  const xinhe_attention_desc_t d = op->attention;
  xinhe_be_mem_t q_mem = mem[XINHE_ATTENTION_ARG_Q];
  if (fault(Fault::kAttnQOffset0)) q_mem.offset = 0;
  const void* q = at(q_mem);
  const void* k = at(mem[XINHE_ATTENTION_ARG_K]);
  const void* v = at(mem[XINHE_ATTENTION_ARG_V]);
  void* o = at(mem[XINHE_ATTENTION_ARG_O]);
  float* lse = d.with_lse ? reinterpret_cast<float*>(at(mem[XINHE_ATTENTION_ARG_LSE])) : nullptr;
  return enqueue(stream, [d, q, k, v, o, lse] { attention(d, q, k, v, o, lse); });
}

xinhe_backend_api_t make_table() {
  xinhe_backend_api_t t;
  std::memset(&t, 0, sizeof(t));
  t.struct_size = sizeof(t);
  t.abi_major = XINHE_BACKEND_ABI_MAJOR;
  t.abi_minor = XINHE_BACKEND_ABI_MINOR;
  t.name = kName;
  t.backend_create = backend_create;
  t.backend_destroy = backend_destroy;
  t.device_count = device_count;
  t.device_open = device_open;
  t.device_close = device_close;
  t.device_properties = device_properties;
  t.buffer_alloc = buffer_alloc;
  t.buffer_free = buffer_free;
  t.stream_create = stream_create;
  t.stream_destroy = stream_destroy;
  t.stream_synchronize = stream_synchronize;
  t.stream_query = stream_query;
  t.copy_host_to_device = copy_host_to_device;
  t.copy_device_to_host = copy_device_to_host;
  t.copy_device_to_device = copy_device_to_device;
  t.fill = fill;
  t.event_create = event_create;
  t.event_destroy = event_destroy;
  t.event_record = event_record;
  t.stream_wait_event = stream_wait_event;
  t.event_synchronize = event_synchronize;
  t.event_query = event_query;
  t.event_elapsed_ms = event_elapsed_ms;
  t.op_create = op_create;
  t.op_destroy = op_destroy;
  t.op_check = op_check;
  t.op_workspace_size = op_workspace_size;
  t.op_impl_name = op_impl_name;
  t.op_run = op_run;
  t.buffer_address = buffer_address;
  return t;
}

const xinhe_backend_api_t kTable = make_table();

}  // namespace

extern "C" XINHE_BACKEND_EXPORT const xinhe_backend_api_t* xinhe_backend_entry(uint32_t, uint32_t) {
  return &kTable;
}
