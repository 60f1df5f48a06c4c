// The process the hostile-input tests run under a watchdog (hostile_test.cpp): it does one
// thing with the public API, as a program would, and prints what it saw as plain lines.
//   list          every backend: "backend <name> loaded=<0|1> code=<CODE> reason=<reason>"
//                 (name and reason escaped, so one backend is one line), then "devices <n>",
//                 then per device "device <name> type=<n> (<type name>) min_alignment=<bytes>"
//   gemm-ops <n>  creates and destroys n small GEMM ops on cpu:0; "elapsed_ms <ms>"
//   cpu-gemm      one 8x8x8 f32 GEMM on cpu:0 checked against a double loop; "cpu-gemm ok"
//   signals       installs SIGUSR1 and SIGSEGV handlers, then makes the first xinhe call (which
//                 loads the plugins) on a second thread; prints "handlers kept" or "handlers
//                 replaced", "usr1 ran <n>" after raising SIGUSR1, and "thread altstack
//                 <off|on>" as that thread saw it after the call
//   buffer-address <device>  allocates 64 bytes on the device and asks their address:
//                 "buffer_address ok" or "buffer_address <CODE> <message>"
//   repeat <n>    n rounds of xinhe_backend_count and xinhe_device_count, each printed as
//                 "round <i> backends <n> devices <n> threads <n>" (the registry is built once)
// Exit status 0 when the scenario ran (whatever the registry holds), 1 on an unexpected error.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "text_escape.h"
#include "xinhe/xinhe.h"

namespace {

int fail(const char* what, xinhe_status_t status) {
  std::printf("error %s: %s %s\n", what, xinhe_status_code_name(xinhe_status_code(status)),
              xinhe::util::escape_for_display(xinhe_status_message(status)).c_str());
  xinhe_status_free(status);
  return 1;
}

int list() {
  size_t count = 0;
  if (xinhe_status_t s = xinhe_backend_count(&count)) return fail("xinhe_backend_count", s);
  for (size_t i = 0; i < count; ++i) {
    xinhe_backend_info_t info;
    std::memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    if (xinhe_status_t s = xinhe_backend_info(i, &info)) return fail("xinhe_backend_info", s);
    std::printf("backend %s loaded=%d code=%s devices=%u reason=%s\n",
                xinhe::util::escape_for_display(info.name).c_str(), info.loaded,
                xinhe_status_code_name(info.code), info.device_count,
                xinhe::util::escape_for_display(info.reason).c_str());
  }
  size_t devices = 0;
  if (xinhe_status_t s = xinhe_device_count(&devices)) return fail("xinhe_device_count", s);
  std::printf("devices %zu\n", devices);
  for (size_t i = 0; i < devices; ++i) {
    xinhe_device_t device = nullptr;
    if (xinhe_status_t s = xinhe_device_get(i, &device)) return fail("xinhe_device_get", s);
    xinhe_device_properties_t props;
    std::memset(&props, 0, sizeof(props));
    props.struct_size = sizeof(props);
    if (xinhe_status_t s = xinhe_device_properties(device, &props)) {
      return fail("xinhe_device_properties", s);
    }
    std::printf("device %s type=%u (%s) min_alignment=%llu\n",
                xinhe::util::escape_for_display(props.name).c_str(), props.device_type,
                xinhe_device_type_name(static_cast<xinhe_device_type_t>(props.device_type)),
                static_cast<unsigned long long>(props.min_alignment));
  }
  return 0;
}

xinhe_gemm_desc_t small_gemm(int64_t n) {
  xinhe_gemm_desc_t d;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  d.ab_dtype = d.c_dtype = XINHE_DTYPE_F32;
  d.m = d.n = d.k = n;
  d.batch = 1;
  d.lda = d.ldb = d.ldc = n;
  return d;
}

int gemm_ops(int n) {
  xinhe_device_t cpu = nullptr;
  if (xinhe_status_t s = xinhe_device_get_by_name("cpu:0", &cpu)) return fail("cpu:0", s);
  const xinhe_gemm_desc_t d = small_gemm(8);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    xinhe_gemm_t op = nullptr;
    if (xinhe_status_t s = xinhe_gemm_create(cpu, &d, &op)) return fail("xinhe_gemm_create", s);
    xinhe_gemm_destroy(op);
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("elapsed_ms %.3f\n", ms);
  return 0;
}

int cpu_gemm() {
  xinhe_device_t cpu = nullptr;
  if (xinhe_status_t s = xinhe_device_get_by_name("cpu:0", &cpu)) return fail("cpu:0", s);
  const int n = 8;
  const xinhe_gemm_desc_t d = small_gemm(n);
  std::vector<float> a(n * n), b(n * n), c(n * n, NAN);
  for (int i = 0; i < n * n; ++i) a[i] = 0.25f * (i % 7) - 0.5f, b[i] = 0.125f * (i % 5) + 0.1f;
  xinhe_stream_t stream = nullptr;
  xinhe_buffer_t ba = nullptr, bb = nullptr, bc = nullptr;
  xinhe_gemm_t op = nullptr;
  const size_t bytes = sizeof(float) * n * n;
  xinhe_status_t s = xinhe_stream_create(cpu, &stream);
  if (!s) s = xinhe_buffer_alloc(cpu, bytes, 64, &ba);
  if (!s) s = xinhe_buffer_alloc(cpu, bytes, 64, &bb);
  if (!s) s = xinhe_buffer_alloc(cpu, bytes, 64, &bc);
  if (!s) s = xinhe_copy_host_to_device(stream, ba, 0, a.data(), bytes);
  if (!s) s = xinhe_copy_host_to_device(stream, bb, 0, b.data(), bytes);
  if (!s) s = xinhe_gemm_create(cpu, &d, &op);
  if (!s) {
    xinhe_gemm_args_t args;
    std::memset(&args, 0, sizeof(args));
    args.struct_size = sizeof(args);
    args.a = ba, args.b = bb, args.c = bc, args.alpha = 1.0f, args.beta = 0.0f;
    s = xinhe_gemm_run(op, stream, &args);
  }
  if (!s) s = xinhe_copy_device_to_host(stream, c.data(), bc, 0, bytes);
  if (!s) s = xinhe_stream_synchronize(stream);
  xinhe_gemm_destroy(op);
  xinhe_buffer_free(ba);
  xinhe_buffer_free(bb);
  xinhe_buffer_free(bc);
  xinhe_stream_destroy(stream);
  if (s) return fail("cpu gemm", s);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      double want = 0.0;
      for (int k = 0; k < n; ++k) want += static_cast<double>(a[i * n + k]) * b[k * n + j];
      if (!(std::fabs(c[i * n + j] - want) <= 1e-5 * (1.0 + std::fabs(want)))) {
        std::printf("error cpu gemm: C[%d][%d] = %g, want %g\n", i, j, c[i * n + j], want);
        return 1;
      }
    }
  }
  std::printf("cpu-gemm ok\n");
  return 0;
}

int buffer_address(const char* name) {
  xinhe_device_t device = nullptr;
  if (xinhe_status_t s = xinhe_device_get_by_name(name, &device)) return fail(name, s);
  xinhe_buffer_t buffer = nullptr;
  if (xinhe_status_t s = xinhe_buffer_alloc(device, 64, 0, &buffer)) {
    return fail("xinhe_buffer_alloc", s);
  }
  uint64_t address = 0;
  xinhe_status_t s = xinhe_buffer_address(buffer, &address);
  if (s == nullptr) {
    std::printf("buffer_address ok\n");
  } else {
    std::printf("buffer_address %s %s\n", xinhe_status_code_name(xinhe_status_code(s)),
                xinhe::util::escape_for_display(xinhe_status_message(s)).c_str());
    xinhe_status_free(s);
  }
  xinhe_buffer_free(buffer);
  return 0;
}

int thread_count() {
  int n = 0;
  if (DIR* dir = opendir("/proc/self/task")) {
    while (const dirent* entry = readdir(dir)) n += entry->d_name[0] != '.';
    closedir(dir);
  }
  return n;
}

int repeat(int rounds) {
  for (int i = 1; i <= rounds; ++i) {
    size_t backends = 0, devices = 0;
    if (xinhe_status_t s = xinhe_backend_count(&backends)) return fail("xinhe_backend_count", s);
    if (xinhe_status_t s = xinhe_device_count(&devices)) return fail("xinhe_device_count", s);
    std::printf("round %d backends %zu devices %zu threads %d\n", i, backends, devices,
                thread_count());
  }
  return 0;
}

}  // namespace

volatile sig_atomic_t g_usr1_count = 0;
void on_usr1(int) { g_usr1_count = g_usr1_count + 1; }
void on_segv(int) { _exit(3); }

int signals() {
  struct sigaction usr1, segv;
  std::memset(&usr1, 0, sizeof(usr1));
  std::memset(&segv, 0, sizeof(segv));
  usr1.sa_handler = on_usr1;
  segv.sa_handler = on_segv;
  sigaction(SIGUSR1, &usr1, nullptr);
  sigaction(SIGSEGV, &segv, nullptr);
  size_t devices = 0;
  bool altstack_on = false;
  xinhe_status_t status = nullptr;
  // A thread of its own: the alternate stack a driver installs is the loading thread's.
  std::thread first_call([&] {
    status = xinhe_device_count(&devices);
    stack_t ss;
    altstack_on = sigaltstack(nullptr, &ss) == 0 && !(ss.ss_flags & SS_DISABLE);
  });
  first_call.join();
  if (status != nullptr) return fail("xinhe_device_count", status);
  struct sigaction now_usr1, now_segv;
  sigaction(SIGUSR1, nullptr, &now_usr1);
  sigaction(SIGSEGV, nullptr, &now_segv);
  const bool kept = now_usr1.sa_handler == on_usr1 && now_segv.sa_handler == on_segv;
  std::printf("handlers %s\n", kept ? "kept" : "replaced");
  raise(SIGUSR1);
  std::printf("usr1 ran %d\n", static_cast<int>(g_usr1_count));
  std::printf("thread altstack %s\n", altstack_on ? "on" : "off");
  std::printf("devices %zu\n", devices);
  return 0;
}

int main(int argc, char** argv) {
  const std::string scenario = argc > 1 ? argv[1] : "";
  int rc = 2;
  if (scenario == "list") rc = list();
  if (scenario == "gemm-ops") rc = gemm_ops(argc > 2 ? std::atoi(argv[2]) : 1000);
  if (scenario == "signals") rc = signals();
  if (scenario == "cpu-gemm") rc = cpu_gemm();
  if (scenario == "buffer-address" && argc > 2) rc = buffer_address(argv[2]);
  if (scenario == "repeat") rc = repeat(argc > 2 ? std::atoi(argv[2]) : 3);
  if (rc == 2) std::printf("usage: xinhe_hostile_child list | gemm-ops <n> | cpu-gemm\n");
  std::fflush(stdout);
  return rc;
}
