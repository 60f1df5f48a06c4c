// A first xinhe program: pick the default device, upload random matrices, run a GEMM and an
// attention with the C++ layer, read the results back and print a checksum of each.
//
// XINHE_DEVICE=cpu:0 (or opencl:0...) picks another device; XINHE_VERBOSE=dispatch shows which
// implementation each op selected.
//
// Exception safety: copies and ops are asynchronous, so host memory and buffers must outlive the
// work queued on them. Everything they hold is declared before the stream; if a call throws,
// the stream is destroyed first, which waits for its queued work, and only then are the buffers
// and host vectors released.
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

xinhe::Buffer alloc_floats(const xinhe::Device& device, const std::vector<float>& like) {
  return device.alloc(like.size() * sizeof(float));
}

}  // namespace

int main() {
  try {
    const xinhe::Device device = xinhe::Device::get_default();
    std::mt19937 rng(42);
    std::printf("device: %s (%s)\n", device.name().c_str(), device.properties().description);

    // GEMM: C (M, N) = A (M, K) * B (K, N), f32, row-major.
    const int64_t m = 96, n = 80, k = 64;
    const std::vector<float> a = random_floats(m * k, rng), b = random_floats(k * n, rng);
    std::vector<float> c(m * n);
    // Attention: O = softmax(Q K^T / sqrt(D)) V, causal, 8 query heads sharing 2 kv heads.
    const int64_t batch = 1, heads_q = 8, heads_kv = 2, seq = 32, dim = 64;
    const std::vector<float> q = random_floats(batch * heads_q * seq * dim, rng);
    const std::vector<float> kk = random_floats(batch * heads_kv * seq * dim, rng);
    const std::vector<float> v = random_floats(batch * heads_kv * seq * dim, rng);
    std::vector<float> o(q.size());

    // Ops, their workspaces and every buffer: declared before the stream (see the top).
    const xinhe::Gemm gemm(device, xinhe::gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, m, n, k));
    gemm.check();  // throws UNIMPLEMENTED with the reason if the device cannot run it
    const xinhe::Attention attention(
        device, xinhe::attention_desc(XINHE_DTYPE_F32, batch, heads_q, heads_kv, seq, seq, dim,
                                      /*causal=*/true));
    attention.check();
    xinhe::Buffer gemm_workspace, attention_workspace;
    if (const uint64_t bytes = gemm.workspace_size()) gemm_workspace = device.alloc(bytes);
    if (const uint64_t bytes = attention.workspace_size())
      attention_workspace = device.alloc(bytes);
    xinhe::Buffer a_dev = alloc_floats(device, a), b_dev = alloc_floats(device, b),
                  c_dev = alloc_floats(device, c);
    xinhe::Buffer q_dev = alloc_floats(device, q), k_dev = alloc_floats(device, kk),
                  v_dev = alloc_floats(device, v), o_dev = alloc_floats(device, o);

    const xinhe::Stream stream = device.create_stream();
    stream.copy_from_host(a_dev, a.data(), a_dev.size());
    stream.copy_from_host(b_dev, b.data(), b_dev.size());
    // describe -> check -> workspace -> run, the shape every op has.
    gemm.run(stream, a_dev, b_dev, c_dev, /*alpha=*/1.0f, /*beta=*/0.0f, gemm_workspace);
    stream.copy_to_host(c.data(), c_dev, c_dev.size());

    stream.copy_from_host(q_dev, q.data(), q_dev.size());
    stream.copy_from_host(k_dev, kk.data(), k_dev.size());
    stream.copy_from_host(v_dev, v.data(), v_dev.size());
    attention.run(stream, q_dev, k_dev, v_dev, o_dev, /*lse=*/nullptr, attention_workspace);
    stream.copy_to_host(o.data(), o_dev, o_dev.size());

    stream.synchronize();  // c and o are valid only from here

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
