// Helper process for the kernel-cache tests: opens the first OpenCL device, creates the same
// small GEMM op twice (the second must be an in-memory hit), checks its result against the
// float64 reference, and prints the program-cache counters as one parseable line:
//   cache builds=N disk_hits=N rejected=N writes=N memory_hits=N
// Exit status: 0 on success, 1 on a wrong result or error, 77 when there is no OpenCL.
#include <cstdio>

#include "testing/opencl_op_runner.h"

int main() {
  using namespace xinhe::opencl;
  using namespace xinhe::opencl::testing;
  Session session;
  if (!session.available()) {
    std::printf("unavailable: %s\n", session.reason().c_str());
    return 77;
  }
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
  for (int i = 0; i < 2; ++i) {
    const CheckResult r = check_gemm(session, g, ov, 5 + i);
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
