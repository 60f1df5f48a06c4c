// Helper process for the kernel-cache tests and the hostile-files tests: opens the first
// OpenCL device and, by mode (argv[1]):
//   (none)       creates the same small GEMM op twice (the second must be an in-memory hit),
//                checks its result against the float64 reference, and prints the
//                program-cache counters as one parseable line:
//                  cache builds=N disk_hits=N rejected=N writes=N memory_hits=N
//   attention    the same for a small attention op (another program, other kernel names)
//   device-name  prints "device: <name>" (what tuning-database entries are keyed by)
//   tuned        a GEMM and an attention op with the parameters dispatch picks (tuning
//                database or defaults), each checked against the reference
// Exit status: 0 on success, 1 on a wrong result or error, 77 when there is no OpenCL.
#include <cstdio>
#include <cstring>
#include <string>

#include "testing/opencl_op_runner.h"

int main(int argc, char** argv) {
  using namespace xinhe::opencl;
  using namespace xinhe::opencl::testing;
  const std::string mode = argc > 1 ? argv[1] : "";
  Session session;
  if (!session.available()) {
    std::printf("unavailable: %s\n", session.reason().c_str());
    return 77;
  }
  if (mode == "device-name") {
    std::printf("device: %s\n", session.device()->info.name.c_str());
    return 0;
  }
  if (mode == "tuned") {
    GemmCase g;
    g.m = 70;
    g.n = 33;
    g.k = 19;
    const CheckResult gr = check_gemm(session, g, OpOverrides{}, 3);
    AttentionCase a;
    a.seq_q = 5;
    a.seq_kv = 9;
    a.head_dim = 16;
    const CheckResult ar = check_attention(session, a, OpOverrides{}, 4);
    for (const std::string& line : TestHost::get().logs()) std::printf("%s\n", line.c_str());
    std::printf("gemm: %s %s\nattention: %s %s\n", gr.ok ? "ok" : "FAILED", gr.error.c_str(),
                ar.ok ? "ok" : "FAILED", ar.error.c_str());
    return gr.ok && ar.ok ? 0 : 1;
  }
  for (int i = 0; i < 2; ++i) {
    CheckResult r;
    if (mode == "attention") {
      AttentionParams params;
      OpOverrides ov;
      ov.attention = &params;
      ov.impl_filter = "flash";
      AttentionCase a;
      a.seq_q = 3;
      a.seq_kv = 5;
      a.head_dim = 8;
      r = check_attention(session, a, ov, 5 + i);
    } else {
      GemmParams params;  // fixed, small, unpacked: one program, quick to build
      params.mwi = 2;
      params.nwi = 8;
      params.vw = 4;
      params.kwi = 1;
      params.mwg = 4;
      params.nwg = 16;
      params.pack = 0;
      OpOverrides ov;
      ov.gemm = &params;
      ov.impl_filter = "tiled";
      GemmCase g;
      g.m = 33;
      g.n = 17;
      g.k = 9;
      g.beta = 0.5f;
      r = check_gemm(session, g, ov, 5 + i);
    }
    if (!r.ok) {
      std::printf("result: FAILED %s\n", r.error.c_str());
      return 1;
    }
  }
  const ProgramCacheStats st = session.device()->programs->stats();
  for (const std::string& line : TestHost::get().logs())
    if (line.find("xinhe[cache]") == 0) std::printf("%s\n", line.c_str());
  std::printf("cache builds=%llu disk_hits=%llu rejected=%llu writes=%llu memory_hits=%llu\n",
              static_cast<unsigned long long>(st.builds),
              static_cast<unsigned long long>(st.disk_hits),
              static_cast<unsigned long long>(st.disk_rejected),
              static_cast<unsigned long long>(st.disk_writes),
              static_cast<unsigned long long>(st.memory_hits));
  std::printf("result: ok\n");
  return 0;
}
