// Concurrency of the OpenCL backend through the public API, in a process of its own (ctest
// sets XINHE_GEMM_IMPL=clblast): one GEMM op run from four threads, each on its own stream, as
// ops.h allows ("op handles are immutable and may be run concurrently on different streams").
// CLBlast 1.5.3's database cache raced on concurrent calls and crashed about every other
// process at four threads; the backend now serializes its calls.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "xinhe/xinhe.hpp"

namespace {

TEST(OpenclConcurrency, OneClblastOpFromFourStreams) {
  xinhe::Device device;
  try {
    device = xinhe::Device::get("opencl:0");
  } catch (const xinhe::Error& e) {
    GTEST_SKIP() << "no opencl:0: " << e.what();
  }
  const int64_t m = 64, n = 48, k = 80;
  const xinhe::Gemm gemm(device, xinhe::gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, m, n, k));
  if (std::string why = gemm.unsupported_reason(); !why.empty())
    GTEST_SKIP() << "no CLBlast GEMM here: " << why;
  ASSERT_NE(gemm.impl_name().find("clblast"), std::string::npos)
      << gemm.impl_name() << ": run with XINHE_GEMM_IMPL=clblast";
  const uint64_t workspace_bytes = gemm.workspace_size();
  constexpr int kThreads = 4, kRuns = 40;
  std::vector<double> worst(kThreads, 0.0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(1234 + t);
      std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
      xinhe::Buffer a = device.alloc(m * k * 4), b = device.alloc(k * n * 4),
                    c = device.alloc(m * n * 4);
      xinhe::Buffer workspace;
      if (workspace_bytes) workspace = device.alloc(workspace_bytes);
      std::vector<float> ha(m * k), hb(k * n), hc(m * n);
      xinhe::Stream stream = device.create_stream();
      for (int run = 0; run < kRuns; ++run) {
        for (float& x : ha) x = dist(rng);
        for (float& x : hb) x = dist(rng);
        std::fill(hc.begin(), hc.end(), std::nanf(""));
        stream.copy_from_host(a, ha.data(), ha.size() * 4);
        stream.copy_from_host(b, hb.data(), hb.size() * 4);
        stream.copy_from_host(c, hc.data(), hc.size() * 4);  // poison
        gemm.run(stream, a, b, c, 1.0f, 0.0f, workspace);
        stream.copy_to_host(hc.data(), c, hc.size() * 4);
        stream.synchronize();
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double want = 0;
            for (int64_t p = 0; p < k; ++p) want += double(ha[i * k + p]) * hb[p * n + j];
            const double err = std::fabs(hc[i * n + j] - want);
            worst[t] = std::isnan(err) ? INFINITY : std::max(worst[t], err);
          }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_LE(worst[t], 1e-4) << "thread " << t;
}

}  // namespace
