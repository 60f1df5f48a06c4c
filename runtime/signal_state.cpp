// See signal_state.h.
#include "signal_state.h"

#include <string.h>

namespace xinhe::core {
namespace {

bool same_action(const struct sigaction& a, const struct sigaction& b) {
  const bool a_info = (a.sa_flags & SA_SIGINFO) != 0, b_info = (b.sa_flags & SA_SIGINFO) != 0;
  if (a_info != b_info || a.sa_flags != b.sa_flags) return false;
  return a_info ? a.sa_sigaction == b.sa_sigaction : a.sa_handler == b.sa_handler;
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

}  // namespace

SignalState::SignalState() {
  for (int sig = 1; sig < kSignals; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    known_[sig] = sigaction(sig, nullptr, &actions_[sig]) == 0;
  }
  alt_stack_known_ = sigaltstack(nullptr, &alt_stack_) == 0;
}

std::string SignalState::restore_changes() const {
  std::string restored;
  auto note = [&restored](const std::string& what) {
    restored += (restored.empty() ? "" : ", ") + what;
  };
  for (int sig = 1; sig < kSignals; ++sig) {
    if (!known_[sig]) continue;
    struct sigaction now;
    if (sigaction(sig, nullptr, &now) != 0 || same_action(now, actions_[sig])) continue;
    if (sigaction(sig, &actions_[sig], nullptr) == 0) note(signal_name(sig));
  }
  stack_t now{};
  if (alt_stack_known_ && sigaltstack(nullptr, &now) == 0 && !(now.ss_flags & SS_ONSTACK)) {
    const bool was_off = (alt_stack_.ss_flags & SS_DISABLE) != 0;
    const bool is_off = (now.ss_flags & SS_DISABLE) != 0;
    const bool changed = was_off != is_off || (!was_off && (now.ss_sp != alt_stack_.ss_sp ||
                                                            now.ss_size != alt_stack_.ss_size));
    if (changed) {
      stack_t put_back = alt_stack_;
      put_back.ss_flags = was_off ? SS_DISABLE : 0;
      if (sigaltstack(&put_back, nullptr) == 0) note("the alternate signal stack");
    }
  }
  return restored;
}

}  // namespace xinhe::core
