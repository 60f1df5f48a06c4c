// The one test host API: a xinhe_host_api_t that stands in for the core when a test drives a
// backend's table directly (the CPU, OpenCL, Level Zero and GPU backend tests), without libxinhe.
//
// Statuses are records the host keeps, handed to the backend as opaque xinhe_status_t handles
// (the test never defines struct xinhe_status_s: that type belongs to libxinhe). A test takes a
// status back with take(), which returns its fields and releases it; live_statuses() counts
// those not yet taken, so a test can check that nothing leaked. Log lines are kept (every topic
// is enabled, so tests see dispatch lines) and printed when XINHE_VERBOSE names their topic, as
// the core does. It serves the implementation filter (ABI 1.3) a test sets, none by default, as
// the core serves XINHE_GEMM_IMPL / XINHE_ATTENTION_IMPL. Thread-safe: backends create
// statuses and log from their worker threads.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "xinhe/backend.h"

namespace xinhe::test {

// A status as the backend created it.
struct TakenStatus {
  xinhe_status_code_t code = XINHE_STATUS_OK;  // OK for a NULL status
  std::string backend, call, file, message;
  int line = 0;
  bool ok() const { return code == XINHE_STATUS_OK; }
};

class RecordingHost {
 public:
  // The process's one host (the table's entries are plain functions, so they reach it here).
  static RecordingHost& get();

  const xinhe_host_api_t* api() const { return &api_; }

  // The fields of status, which is released (NULL gives an OK record).
  TakenStatus take(xinhe_status_t status);
  // Shorthands: the code, or the code and message, of a taken status.
  xinhe_status_code_t code_of(xinhe_status_t status) { return take(status).code; }
  xinhe_status_code_t code_of(xinhe_status_t status, std::string* message);
  // Statuses created and not yet taken.
  int64_t live_statuses() const;

  // Log lines as the core prints them, "xinhe[<topic>] <backend>: <message>", in order.
  std::vector<std::string> logs() const;
  void clear_logs();
  // True when some line contains needle.
  bool logged(const std::string& needle) const;

  // The topics verbose_enabled accepts, as XINHE_VERBOSE spells them ("dispatch,load"; "all";
  // "" for none). Default "all", so that tests see every line.
  void set_verbose(const std::string& topics);

  // The implementation filter served for kind through impl_filter ("" for none, the default:
  // impl_filter returns NULL).
  void set_impl_filter(xinhe_op_kind_t kind, const std::string& filter);
  // Serves an empty string (not NULL) for kind, as a host whose variable is set but empty
  // would: backends must read it as no filter. set_impl_filter(kind, "") returns to NULL.
  void serve_empty_impl_filter(xinhe_op_kind_t kind);

 private:
  RecordingHost();
  static xinhe_status_t status_new(xinhe_status_code_t code, const char* backend, const char* call,
                                   const char* file, int line, const char* message);
  static int verbose_enabled(const char* topic);
  static void log(const char* topic, const char* backend, const char* message);
  static const char* impl_filter(xinhe_op_kind_t kind);

  xinhe_host_api_t api_{};
  mutable std::mutex mutex_;
  int64_t live_ = 0;
  std::string verbose_ = "all";
  std::vector<std::string> logs_;
  std::optional<std::string> gemm_filter_, attention_filter_;  // nullopt: NULL is served
};

}  // namespace xinhe::test
