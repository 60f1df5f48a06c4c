// Cleanup on SIGTERM/SIGINT: the bench's temporary files (per-thread-count child output, the
// shape file handed to it, the PyTorch peer's input/output files) are removed and its child
// processes are stopped before the bench dies by the same signal. The registry is a fixed
// table so the signal handler only uses async-signal-safe calls (unlink, kill, waitpid).
#pragma once

#include <sys/types.h>

#include <string>

namespace xinhe::bench {

// Installs the SIGTERM/SIGINT handler (once per process).
void install_cleanup_handler();

// A file created under the temporary folder, removed on the signal (and by its owner
// otherwise; forget_temp_file when the owner has removed it).
void track_temp_file(const std::string& path);
void forget_temp_file(const std::string& path);

// A child process sent the same signal on cleanup and waited for (up to a few seconds) so
// that it can remove its own files; forget_child once it has been reaped.
void track_child(pid_t pid);
void forget_child(pid_t pid);

// mkstemp under $TMPDIR (else /tmp) as "<stem>-XXXXXX", closed and tracked.
std::string make_temp_file(const std::string& stem);

}  // namespace xinhe::bench
