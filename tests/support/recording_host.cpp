// The test host API of recording_host.h.
#include "recording_host.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace xinhe::test {

namespace {

// What an xinhe_status_t handed out by this host points to. Never cast to struct
// xinhe_status_s: only this file creates and reads it.
struct Record {
  TakenStatus fields;
};

std::string text(const char* s) { return s != nullptr ? s : ""; }

// True when the comma-separated list names topic or "all".
bool names_topic(const std::string& list, const char* topic) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    const std::string item = list.substr(start, end - start);
    if (item == "all" || (topic != nullptr && item == topic)) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

RecordingHost& RecordingHost::get() {
  static RecordingHost* host = new RecordingHost();  // never destroyed: backends may log late
  return *host;
}

RecordingHost::RecordingHost() {
  api_.struct_size = sizeof(api_);
  api_.abi_major = XINHE_BACKEND_ABI_MAJOR;
  api_.abi_minor = XINHE_BACKEND_ABI_MINOR;
  api_.status_new = &status_new;
  api_.verbose_enabled = &verbose_enabled;
  api_.log = &log;
  api_.impl_filter = &impl_filter;
}

xinhe_status_t RecordingHost::status_new(xinhe_status_code_t code, const char* backend,
                                         const char* call, const char* file, int line,
                                         const char* message) {
  auto* record =
      new Record{TakenStatus{code, text(backend), text(call), text(file), text(message), line}};
  RecordingHost& self = get();
  {
    std::lock_guard<std::mutex> lock(self.mutex_);
    ++self.live_;
  }
  return reinterpret_cast<xinhe_status_t>(record);
}

TakenStatus RecordingHost::take(xinhe_status_t status) {
  if (status == nullptr) return TakenStatus{};
  auto* record = reinterpret_cast<Record*>(status);
  TakenStatus fields = std::move(record->fields);
  delete record;
  std::lock_guard<std::mutex> lock(mutex_);
  --live_;
  return fields;
}

xinhe_status_code_t RecordingHost::code_of(xinhe_status_t status, std::string* message) {
  TakenStatus taken = take(status);
  if (message != nullptr) *message = taken.message;
  return taken.code;
}

int64_t RecordingHost::live_statuses() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return live_;
}

int RecordingHost::verbose_enabled(const char* topic) {
  RecordingHost& self = get();
  std::lock_guard<std::mutex> lock(self.mutex_);
  return names_topic(self.verbose_, topic) ? 1 : 0;
}

void RecordingHost::set_verbose(const std::string& topics) {
  std::lock_guard<std::mutex> lock(mutex_);
  verbose_ = topics;
}

void RecordingHost::log(const char* topic, const char* backend, const char* message) {
  RecordingHost& self = get();
  // The core's format (backend.h).
  const std::string line = "xinhe[" + text(topic) + "] " + text(backend) + ": " + text(message);
  const char* verbose = std::getenv("XINHE_VERBOSE");
  if (verbose != nullptr && names_topic(verbose, topic)) std::fprintf(stderr, "%s\n", line.c_str());
  std::lock_guard<std::mutex> lock(self.mutex_);
  self.logs_.push_back(line);
}

void RecordingHost::set_impl_filter(xinhe_op_kind_t kind, const std::string& filter) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::optional<std::string> served;
  if (!filter.empty()) served = filter;
  if (kind == XINHE_OP_GEMM) gemm_filter_ = served;
  if (kind == XINHE_OP_ATTENTION) attention_filter_ = served;
}

void RecordingHost::serve_empty_impl_filter(xinhe_op_kind_t kind) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (kind == XINHE_OP_GEMM) gemm_filter_ = std::string();
  if (kind == XINHE_OP_ATTENTION) attention_filter_ = std::string();
}

const char* RecordingHost::impl_filter(xinhe_op_kind_t kind) {
  // backend.h: the text stays valid until the next call on the same thread, so each thread
  // gets its own copy and a concurrent set_impl_filter cannot free it.
  thread_local std::string served;
  RecordingHost& self = get();
  {
    std::lock_guard<std::mutex> lock(self.mutex_);
    const std::optional<std::string>* filter = kind == XINHE_OP_GEMM ? &self.gemm_filter_
                                               : kind == XINHE_OP_ATTENTION
                                                   ? &self.attention_filter_
                                                   : nullptr;
    if (filter == nullptr || !filter->has_value()) return nullptr;
    served = **filter;
  }
  return served.c_str();
}

std::vector<std::string> RecordingHost::logs() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return logs_;
}

void RecordingHost::clear_logs() {
  std::lock_guard<std::mutex> lock(mutex_);
  logs_.clear();
}

bool RecordingHost::logged(const std::string& needle) const {
  for (const std::string& line : logs())
    if (line.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace xinhe::test
