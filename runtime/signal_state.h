// The process's signal handlers and the calling thread's alternate signal stack, kept across
// plugin loading. A plugin must not take over the application's signals, but drivers do:
// PoCL's LLVM installs crash handlers for 15 signals and a malloc'ed alternate stack when it
// starts (an application's SIGUSR1 handler then never ran, and under ASan a thread whose first
// xinhe call loaded PoCL aborted at exit, unable to unmap that stack). The registry snapshots
// both before a plugin is opened and puts back whatever loading replaced.
#pragma once

#include <signal.h>

#include <string>

namespace xinhe::core {

class SignalState {
 public:
  SignalState();  // snapshot
  // Puts back every handler and the alternate stack that differ from the snapshot; returns
  // what was put back ("SIGSEGV, SIGUSR1, alternate signal stack"), empty when nothing.
  std::string restore_changes() const;

 private:
  static constexpr int kSignals = 65;  // 1..64: the classic and the real-time signals
  struct sigaction actions_[kSignals];
  bool known_[kSignals] = {};
  stack_t alt_stack_{};
  bool alt_stack_known_ = false;
};

}  // namespace xinhe::core
