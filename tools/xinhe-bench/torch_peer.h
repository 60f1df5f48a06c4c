// The PyTorch peer of cpu devices: torch.matmul ("torch-matmul") and
// scaled_dot_product_attention ("torch-sdpa") computed by a Python child process
// (torch_peer.py, embedded in the binary) on the bench's inputs, with the same thread count,
// timed in its own block like the in-process peers. The interpreter is
// --python, else XINHE_BENCH_PYTHON, else python3; when it cannot import torch, every torch
// item is skipped with that reason.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "measure.h"

namespace xinhe::bench {

// impl names of the peer rows.
inline constexpr const char* kTorchMatmul = "torch-matmul";
inline constexpr const char* kTorchSdpa = "torch-sdpa";

// In a child just forked from `parent`: the kernel kills this process when the parent dies,
// so an interrupted bench leaves no child (a PyTorch matmul, a per-thread-count run) burning
// the cores a later measurement needs. Exits at once if the parent is already gone.
void die_with_parent(pid_t parent);

// Sets the interpreter and thread count used when the child is first needed, and the most
// seconds one PyTorch call may take: a case whose checked run takes longer is listed as
// skipped with its time instead of being timed (PyTorch's f16 matmul on a CPU without
// AVX512-FP16 took 2.1 s for 1024^3 on one Zen 4 thread, and grows with the cube).
void configure_torch_peer(const std::string& python, int threads, double max_call_seconds);

// nullptr with *problem filled (code UNIMPLEMENTED: skipped) when the peer cannot run the case.
std::unique_ptr<Measurement> prepare_torch(const std::string& device_name, CaseData& data,
                                           Problem* problem);

}  // namespace xinhe::bench
