// xinhe backend kit: header-only C++ helpers for backend authors, over backend.h. A plugin
// includes it without linking libxinhe (everything here goes through the xinhe_host_api_t the
// core passes to backend_create). Every in-tree backend uses it. Needs C++17.
//
//   Statuses   XINHE_BE_ERROR / make_status create a status through host->status_new, printf
//              style, attributed to the caller's file and line; XINHE_BE_RETURN_IF_ERROR
//              propagates one. The one family every backend uses; a vendor's error codes are
//              still converted by one function of its own (OpenCL's ClError, the GPU vendor
//              layers' Driver::to_status), which goes through it. The core keeps its own
//              XH_ERROR (runtime/core.h), same argument order: it owns the status type and
//              builds statuses directly, where a plugin can only reach that constructor
//              through the host table.
//   Dispatch   one walker over an op's ordered implementation list (after oneDNN's impl lists),
//              so every backend selects, filters, falls through and logs the same way:
//                - an implementation is data: a method and an optional target (arch), which
//                  name it <backend>.<op>.<method>_<dtypes>[_<arch>] (dtypes from the op:
//                  "f16_f32" for a GEMM with f16 inputs and f32 C, "f32" when C has the input
//                  dtype, the one dtype for attention); an eligibility check that returns ""
//                  or why not; and a factory that builds what the run needs;
//                - the walker takes the first entry whose name contains the user's filter
//                  (XINHE_GEMM_IMPL / XINHE_ATTENTION_IMPL, served by the core through
//                  host->impl_filter, see backend.h), that is eligible, and whose factory
//                  succeeds. A factory that fails to build (a kernel that does not compile)
//                  makes the walk fall through to the next entry with the reason kept; only a
//                  fatal failure (out of memory, device lost) ends the walk;
//                - it writes one XINHE_VERBOSE=dispatch line per op, in one format for every
//                  backend (dispatch_line below), and when nothing runs it gives the op's check
//                  reason, naming each entry and why it was skipped.
//
// Why a header and the filter as a host entry (ABI 1.3), not a core service that walks the list:
// the list, its eligibility checks and factories live in the plugin (they touch its device and
// kernels), and a plugin cannot call into libxinhe. Only reading the environment is moved to the
// core, so that one place defines the filter's semantics for every backend and process. A
// plugin running on a core older than 1.3 (no impl_filter entry) applies no filter; every other
// behaviour is the same.
#ifndef XINHE_BACKEND_HPP_
#define XINHE_BACKEND_HPP_

#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "xinhe/backend.h"

namespace xinhe::backend {

// ---- Statuses --------------------------------------------------------------------------------

// A status from the host's constructor; message is printf-style. NULL for XINHE_STATUS_OK.
inline xinhe_status_t make_status(const xinhe_host_api_t* host, xinhe_status_code_t code,
                                  const char* backend, const char* call, const char* file, int line,
                                  const char* format, ...) __attribute__((format(printf, 7, 8)));

inline xinhe_status_t make_status(const xinhe_host_api_t* host, xinhe_status_code_t code,
                                  const char* backend, const char* call, const char* file, int line,
                                  const char* format, ...) {
  if (code == XINHE_STATUS_OK) return nullptr;
  char small[512];
  va_list args;
  va_start(args, format);
  const int length = std::vsnprintf(small, sizeof small, format, args);
  va_end(args);
  if (length < 0) return host->status_new(code, backend, call, file, line, format);
  if (static_cast<size_t>(length) < sizeof small) {
    return host->status_new(code, backend, call, file, line, small);
  }
  std::string message(static_cast<size_t>(length) + 1, '\0');
  va_start(args, format);
  std::vsnprintf(message.data(), message.size(), format, args);
  va_end(args);
  return host->status_new(code, backend, call, file, line, message.c_str());
}

}  // namespace xinhe::backend

// A status of code XINHE_STATUS_<code> from backend, naming the failing call, at this line:
//   return XINHE_BE_ERROR(host, OUT_OF_MEMORY, "cpu", "buffer_alloc", "%llu bytes", n);
#define XINHE_BE_ERROR(host, code, backend_name, call, ...)                                    \
  ::xinhe::backend::make_status((host), XINHE_STATUS_##code, (backend_name), (call), __FILE__, \
                                __LINE__, __VA_ARGS__)

// Returns the status of expr from the enclosing function when it is an error.
#define XINHE_BE_RETURN_IF_ERROR(expr)                                     \
  do {                                                                     \
    if (xinhe_status_t xinhe_be_status_ = (expr)) return xinhe_be_status_; \
  } while (0)

namespace xinhe::backend {

// ---- Names -----------------------------------------------------------------------------------

inline const char* dtype_tag(xinhe_dtype_t dtype) {
  switch (dtype) {
    case XINHE_DTYPE_F32:
      return "f32";
    case XINHE_DTYPE_F16:
      return "f16";
    case XINHE_DTYPE_BF16:
      return "bf16";
    case XINHE_DTYPE_F64:
      return "f64";
    default:
      return "?";
  }
}

// The <dtypes> part of an implementation name: "f16_f32" (A/B f16, C f32), "bf16" (all bf16).
inline std::string dtypes_tag(const xinhe_gemm_desc_t& d) {
  std::string tag = dtype_tag(d.ab_dtype);
  if (d.c_dtype != d.ab_dtype) tag += std::string("_") + dtype_tag(d.c_dtype);
  return tag;
}
inline std::string dtypes_tag(const xinhe_attention_desc_t& d) { return dtype_tag(d.dtype); }

inline const char* op_tag(xinhe_op_kind_t kind) {
  return kind == XINHE_OP_GEMM ? "gemm" : kind == XINHE_OP_ATTENTION ? "attention" : "op";
}

// <backend>.<op>.<method>_<dtypes>[_<arch>], e.g. "cuda.gemm.tensorop_f16_f32_sm80".
inline std::string impl_name(const char* backend, xinhe_op_kind_t kind, const char* method,
                             const std::string& dtypes, const char* arch) {
  std::string name = std::string(backend) + "." + op_tag(kind) + "." + method + "_" + dtypes;
  if (arch != nullptr && arch[0] != '\0') name += std::string("_") + arch;
  return name;
}

// The op as dispatch lines and reasons show it:
//   "gemm f16->f32 nt m=64 n=32 k=16 batch=2"
//   "attention bf16 B=1 Hq=8 Hkv=2 Sq=1 Skv=4096 D=128 causal lse"
inline std::string describe(const xinhe_gemm_desc_t& d) {
  char text[192];
  std::snprintf(text, sizeof text, "gemm %s->%s %c%c m=%lld n=%lld k=%lld batch=%lld",
                dtype_tag(d.ab_dtype), dtype_tag(d.c_dtype), d.trans_a ? 't' : 'n',
                d.trans_b ? 't' : 'n', static_cast<long long>(d.m), static_cast<long long>(d.n),
                static_cast<long long>(d.k), static_cast<long long>(d.batch));
  return text;
}
inline std::string describe(const xinhe_attention_desc_t& d) {
  char text[224];
  std::snprintf(
      text, sizeof text, "attention %s B=%lld Hq=%lld Hkv=%lld Sq=%lld Skv=%lld D=%lld%s%s",
      dtype_tag(d.dtype), static_cast<long long>(d.batch), static_cast<long long>(d.heads_q),
      static_cast<long long>(d.heads_kv), static_cast<long long>(d.seq_q),
      static_cast<long long>(d.seq_kv), static_cast<long long>(d.head_dim),
      d.mask == XINHE_ATTENTION_MASK_CAUSAL ? " causal" : "", d.with_lse ? " lse" : "");
  return text;
}

// ---- Dispatch --------------------------------------------------------------------------------

// The environment variable behind an op kind's filter, for messages.
inline const char* filter_variable(xinhe_op_kind_t kind) {
  return kind == XINHE_OP_GEMM ? "XINHE_GEMM_IMPL" : "XINHE_ATTENTION_IMPL";
}

// The user's filter for kind from the host: NULL when none, or when the host (before ABI 1.3) has
// no impl_filter entry.
inline const char* host_impl_filter(const xinhe_host_api_t* host, xinhe_op_kind_t kind) {
  if (host == nullptr || !XINHE_STRUCT_HAS(xinhe_host_api_t, host, impl_filter) ||
      host->impl_filter == nullptr) {
    return nullptr;
  }
  const char* filter = host->impl_filter(kind);
  return filter != nullptr && filter[0] != '\0' ? filter : nullptr;
}

namespace detail {
// Eligibility checks may return a std::string or a C string (NULL meaning eligible).
inline std::string reason_text(const char* reason) { return reason != nullptr ? reason : ""; }
inline std::string reason_text(std::string reason) { return reason; }
}  // namespace detail

// What one walk selects for.
struct DispatchRequest {
  const xinhe_host_api_t* host = nullptr;
  const char* backend = "";  // "opencl": the first part of every name, and the log's source
  xinhe_op_kind_t kind = XINHE_OP_GEMM;
  std::string dtypes;  // dtypes_tag(desc)
  std::string op;      // describe(desc)
  std::string device;  // the device's model for the log ("" to leave it out)
  // Replaces the host's filter when not NULL ("" = no filter): for tests and tuners that drive
  // one implementation. NULL: the user's filter, from host_impl_filter.
  const char* filter_override = nullptr;

  DispatchRequest() = default;
  DispatchRequest(const xinhe_host_api_t* h, const char* b, const xinhe_gemm_desc_t& d)
      : host(h), backend(b), kind(XINHE_OP_GEMM), dtypes(dtypes_tag(d)), op(describe(d)) {}
  DispatchRequest(const xinhe_host_api_t* h, const char* b, const xinhe_attention_desc_t& d)
      : host(h), backend(b), kind(XINHE_OP_ATTENTION), dtypes(dtypes_tag(d)), op(describe(d)) {}

  std::string name_of(const char* method, const char* arch) const {
    return impl_name(backend, kind, method, dtypes, arch);
  }
};

// The outcome of an entry's factory.
class Built {
 public:
  // The entry runs the op; detail (parameters, kernel, source) is added to the dispatch line.
  static Built ok(std::string detail = std::string()) {
    return Built(Kind::kOk, std::move(detail));
  }
  // It cannot (a kernel that does not compile, a symbol missing from an image): the walk falls
  // through to the next entry and keeps reason.
  static Built skip(std::string reason) { return Built(Kind::kSkip, std::move(reason)); }
  // A failure that must reach the caller (out of memory, device lost): op_create returns it.
  static Built fatal(xinhe_status_t status) {
    Built b(Kind::kFatal, std::string());
    b.status_ = status;
    return b;
  }

  bool is_ok() const { return kind_ == Kind::kOk; }
  bool is_skip() const { return kind_ == Kind::kSkip; }
  bool is_fatal() const { return kind_ == Kind::kFatal; }
  const std::string& text() const { return text_; }  // detail (ok) or reason (skip)
  xinhe_status_t status() const { return status_; }

 private:
  enum class Kind { kOk, kSkip, kFatal };
  Built(Kind kind, std::string text) : kind_(kind), text_(std::move(text)) {}
  Kind kind_;
  std::string text_;
  xinhe_status_t status_ = nullptr;
};

// An entry the walk passed over, and why.
struct Skip {
  std::string name;
  std::string reason;
};

// The result of a walk.
struct Selection {
  int index = -1;                  // the entry that runs the op; -1 when none
  std::string name;                // its name ("" when none)
  std::string detail;              // what its factory reported
  std::vector<Skip> skipped;       // every earlier entry, in list order
  std::string unsupported;         // index < 0: the op's check reason
  xinhe_status_t fatal = nullptr;  // a factory's fatal status: op_create returns it

  bool selected() const { return index >= 0; }
  // "<impl>: <reason>; <impl>: <reason>"
  std::string skipped_text() const {
    std::string text;
    for (const Skip& s : skipped) text += (text.empty() ? "" : "; ") + s.name + ": " + s.reason;
    return text;
  }
};

// The dispatch line (XINHE_VERBOSE=dispatch), one grammar for every backend:
//   <op>[ on <device>] -> <impl>[ (<detail>)][; skipped <impl>: <reason>]...
//   <op>[ on <device>] -> none[; skipped <impl>: <reason>]...
inline std::string dispatch_line(const DispatchRequest& request, const Selection& selection) {
  std::string line = request.op;
  if (!request.device.empty()) line += " on " + request.device;
  line += " -> " + (selection.selected() ? selection.name : std::string("none"));
  if (selection.selected() && !selection.detail.empty()) line += " (" + selection.detail + ")";
  for (const Skip& s : selection.skipped) line += "; skipped " + s.name + ": " + s.reason;
  return line;
}

// Writes text as a dispatch line of backend when XINHE_VERBOSE names "dispatch".
inline void log_dispatch(const xinhe_host_api_t* host, const char* backend,
                         const std::string& text) {
  if (host != nullptr && host->verbose_enabled("dispatch")) {
    host->log("dispatch", backend, text.c_str());
  }
}

// A run that uses another implementation than the one selected at create time (a kernel swap
// decided per run, e.g. on operand addresses), in the same grammar:
//   <op>[ on <device>] -> <used> at run, not <selected>: <reason>
inline std::string run_swap_line(const DispatchRequest& request, const std::string& selected,
                                 const std::string& used, const std::string& reason) {
  std::string line = request.op;
  if (!request.device.empty()) line += " on " + request.device;
  return line + " -> " + used + " at run, not " + selected + ": " + reason;
}

// Walks list (an array or vector of entries) in order. An entry has const char* members method
// and arch (arch may be NULL). unsupported(entry) returns "" (or a NULL C string) when the entry
// can run the op, else why not; build(entry) is called on each eligible entry in turn until one
// returns Built::ok or Built::fatal. Logs the outcome and returns it; selection.index is the
// entry's position.
template <typename List, typename Unsupported, typename Build>
Selection select_impl(const DispatchRequest& request, const List& list, Unsupported&& unsupported,
                      Build&& build) {
  const auto* entries = std::data(list);
  const size_t count = std::size(list);
  const char* filter =
      request.filter_override != nullptr
          ? (request.filter_override[0] != '\0' ? request.filter_override : nullptr)
          : host_impl_filter(request.host, request.kind);
  Selection selection;
  bool any_named = false;
  for (size_t i = 0; i < count; ++i) {
    const auto& entry = entries[i];
    std::string name = request.name_of(entry.method, entry.arch);
    if (filter != nullptr && name.find(filter) == std::string::npos) {
      selection.skipped.push_back(
          {std::move(name),
           std::string("not named like ") + filter_variable(request.kind) + "='" + filter + "'"});
      continue;
    }
    any_named = true;
    std::string why = detail::reason_text(unsupported(entry));
    if (!why.empty()) {
      selection.skipped.push_back({std::move(name), std::move(why)});
      continue;
    }
    Built built = build(entry);
    if (built.is_fatal()) {
      selection.fatal = built.status();
      return selection;
    }
    if (built.is_skip()) {
      selection.skipped.push_back({std::move(name), built.text()});
      continue;
    }
    selection.index = static_cast<int>(i);
    selection.name = std::move(name);
    selection.detail = built.text();
    break;
  }
  if (!selection.selected()) {
    selection.unsupported =
        "no " + std::string(request.backend) + " implementation runs " + request.op;
    if (filter != nullptr && !any_named) {
      selection.unsupported += ": none is named like " +
                               std::string(filter_variable(request.kind)) + "='" + filter + "'";
    }
    if (!selection.skipped.empty()) selection.unsupported += " (" + selection.skipped_text() + ")";
  }
  log_dispatch(request.host, request.backend, dispatch_line(request, selection));
  return selection;
}

// select_impl for lists whose entries need nothing built.
template <typename List, typename Unsupported>
Selection select_impl(const DispatchRequest& request, const List& list, Unsupported&& unsupported) {
  return select_impl(request, list, std::forward<Unsupported>(unsupported),
                     [](const auto&) { return Built::ok(); });
}

}  // namespace xinhe::backend

#endif  // XINHE_BACKEND_HPP_
