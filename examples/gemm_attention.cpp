// A first xinhe program: pick the default device, upload random matrices, run a GEMM and an
// attention with the C++ layer, read the results back and print a checksum of each.
//
// XINHE_DEVICE=cpu:0 (or opencl:0...) picks another device; XINHE_VERBOSE=dispatch shows which
// implementation each op selected.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "xinhe/xinhe.hpp"

namespace {

std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

double checksum(const std::vector<float>& v) {
  double sum = 0.0;
  for (float x : v) sum += x;
  return sum;
}

// Uploads host data into a new device buffer.
xinhe::Buffer upload(const xinhe::Device& device, const xinhe::Stream& stream,
                     const std::vector<float>& host) {
  xinhe::Buffer buffer = device.alloc(host.size() * sizeof(float));
  stream.copy_from_host(buffer, host.data(), buffer.size());
  return buffer;
}

}  // namespace

int main() {
  try {
    const xinhe::Device device = xinhe::Device::get_default();
    const xinhe::Stream stream = device.create_stream();
    std::mt19937 rng(42);
    std::printf("device: %s (%s)\n", device.name().c_str(), device.properties().description);

    // GEMM: C (M, N) = A (M, K) * B (K, N), f32, row-major.
    const int64_t m = 96, n = 80, k = 64;
    const std::vector<float> a = random_floats(m * k, rng), b = random_floats(k * n, rng);
    xinhe::Buffer a_dev = upload(device, stream, a), b_dev = upload(device, stream, b);
    xinhe::Buffer c_dev = device.alloc(m * n * sizeof(float));
    // describe -> check -> workspace -> run, the shape every op has.
    const xinhe::Gemm gemm(device, xinhe::gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, m, n, k));
    gemm.check();  // throws UNIMPLEMENTED with the reason if the device cannot run it
    xinhe::Buffer gemm_workspace;
    if (const uint64_t bytes = gemm.workspace_size()) gemm_workspace = device.alloc(bytes);
    gemm.run(stream, a_dev, b_dev, c_dev, /*alpha=*/1.0f, /*beta=*/0.0f,
             gemm_workspace ? &gemm_workspace : nullptr);
    std::vector<float> c(m * n);
    stream.copy_to_host(c.data(), c_dev, c_dev.size());

    // Attention: O = softmax(Q K^T / sqrt(D)) V, causal, 8 query heads sharing 2 kv heads.
    const int64_t batch = 1, heads_q = 8, heads_kv = 2, seq = 32, dim = 64;
    const std::vector<float> q = random_floats(batch * heads_q * seq * dim, rng);
    const std::vector<float> kk = random_floats(batch * heads_kv * seq * dim, rng);
    const std::vector<float> v = random_floats(batch * heads_kv * seq * dim, rng);
    xinhe::Buffer q_dev = upload(device, stream, q), k_dev = upload(device, stream, kk),
                  v_dev = upload(device, stream, v);
    xinhe::Buffer o_dev = device.alloc(q.size() * sizeof(float));
    const xinhe::Attention attention(
        device, xinhe::attention_desc(XINHE_DTYPE_F32, batch, heads_q, heads_kv, seq, seq, dim,
                                      /*causal=*/true));
    attention.check();
    xinhe::Buffer workspace;
    if (const uint64_t bytes = attention.workspace_size()) workspace = device.alloc(bytes);
    attention.run(stream, q_dev, k_dev, v_dev, o_dev, nullptr, workspace ? &workspace : nullptr);
    std::vector<float> o(q.size());
    stream.copy_to_host(o.data(), o_dev, o_dev.size());

    stream.synchronize();  // the host vectors are valid only from here

    // Spot check one element of C against a dot product on the host.
    double c_last = 0.0;
    for (int64_t i = 0; i < k; ++i) c_last += double(a[(m - 1) * k + i]) * b[i * n + (n - 1)];
    if (std::fabs(c_last - c[m * n - 1]) > 1e-4 * k) {
      std::fprintf(stderr, "gemm: C[%lld][%lld] is %f, expected %f\n", (long long)(m - 1),
                   (long long)(n - 1), c[m * n - 1], c_last);
      return 1;
    }
    std::printf("gemm %lldx%lldx%lld (%s): checksum %.6f\n", static_cast<long long>(m),
                static_cast<long long>(n), static_cast<long long>(k), gemm.impl_name().c_str(),
                checksum(c));
    std::printf("attention b%lld h%lld/%lld s%lld d%lld (%s): checksum %.6f\n",
                static_cast<long long>(batch), static_cast<long long>(heads_q),
                static_cast<long long>(heads_kv), static_cast<long long>(seq),
                static_cast<long long>(dim), attention.impl_name().c_str(), checksum(o));
    return 0;
  } catch (const xinhe::Error& e) {
    std::fprintf(stderr, "xinhe error: %s\n", e.what());
    return 1;
  }
}
