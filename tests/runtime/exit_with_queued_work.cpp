// A program that exits while cpu:0 still has ops queued: its context (buffers, ops, a stream,
// the stream last) lives in a global, so the stream's destructor, run by exit, waits for the
// queued GEMMs and attention. The CPU backend's implementation lists were function-local
// statics created during main and destroyed before that global, under the worker still
// running from them (a heap-use-after-free the sanitizer builds report). Prints "ok" when the
// queued work finished with the right sums and everything was destroyed; the sanitized builds
// check the rest.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "xinhe/xinhe.hpp"

namespace {

constexpr int64_t kN = 192;
constexpr int kQueued = 8;

// Destroyed after g_context (declared before it): "ok" only once the context, its stream, ops,
// buffers and device are all gone, so a sanitizer report in their destructors (which ends the
// process) leaves no "ok" for the test to find.
struct FinalCheck {
  bool sums_ok = false;
  ~FinalCheck() {
    if (sums_ok) std::printf("exit_with_queued_work: ok\n");
  }
};
FinalCheck g_final;

struct Context {
  xinhe::Device device = xinhe::Device::get("cpu:0");
  xinhe::Buffer a = device.alloc(kN * kN * 4), b = device.alloc(kN * kN * 4),
                c = device.alloc(kN * kN * 4), q = device.alloc(4 * 64 * 32 * 4),
                o = device.alloc(4 * 64 * 32 * 4);
  std::vector<float> host_c = std::vector<float>(kN * kN, std::nanf(""));
  const std::vector<float> eighth = std::vector<float>(kN * kN, 0.125f);  // outlives the copies
  xinhe::Gemm gemm{device, xinhe::gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, kN, kN, kN)};
  xinhe::Attention attention{
      device, xinhe::attention_desc(XINHE_DTYPE_F32, 1, 4, 4, 64, 64, 32, /*causal=*/true)};
  xinhe::Buffer gemm_ws, attention_ws;
  xinhe::Stream stream = device.create_stream();  // last: destroyed first, waiting for its work
  ~Context() {
    stream.synchronize();
    // A = B = 1/8: every element of C is kN / 64.
    for (float x : host_c)
      if (std::fabs(x - kN / 64.0f) > 1e-3f) {
        std::fprintf(stderr, "exit_with_queued_work: C holds %g, want %g\n", x, kN / 64.0);
        std::_Exit(1);
      }
    g_final.sums_ok = true;
  }
};

std::unique_ptr<Context> g_context;

}  // namespace

int main() {
  g_context = std::make_unique<Context>();
  Context& ctx = *g_context;
  if (uint64_t n = ctx.gemm.workspace_size()) ctx.gemm_ws = ctx.device.alloc(n);
  if (uint64_t n = ctx.attention.workspace_size()) ctx.attention_ws = ctx.device.alloc(n);
  ctx.stream.copy_from_host(ctx.a, ctx.eighth.data(), ctx.eighth.size() * 4);
  ctx.stream.copy_from_host(ctx.b, ctx.eighth.data(), ctx.eighth.size() * 4);
  ctx.stream.copy_from_host(ctx.q, ctx.eighth.data(), 4 * 64 * 32 * 4);
  for (int i = 0; i < kQueued; ++i) {
    ctx.gemm.run(ctx.stream, ctx.a, ctx.b, ctx.c, 1.0f, 0.0f, ctx.gemm_ws);
    ctx.attention.run(ctx.stream, ctx.q, ctx.q, ctx.q, ctx.o, {}, ctx.attention_ws);
  }
  ctx.stream.copy_to_host(ctx.host_c.data(), ctx.c, ctx.host_c.size() * 4);
  return 0;  // the global's destructor runs during exit, after the function-local statics
}
