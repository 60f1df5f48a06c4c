// xinhe.torch runtime: how a PyTorch PrivateUse1 device maps onto xinhe. Torch device index i
// is xinhe device i in registry order. Memory comes from xinhe buffers through an allocator
// whose data pointers are the host address where the device's memory is host memory (cpu:0)
// and a reserved, inaccessible address range otherwise (opencl:0), so pointer arithmetic on
// views works either way and a stray host access faults instead of corrupting memory. Every
// allocation is kept in an address map, which turns a tensor's data pointer back into a
// (buffer, byte offset) pair for the xinhe calls.
//
// Streams: each device has a default xinhe stream (id 0) and a pool of 8 (ids 1..8, created
// on first use) that torch.Stream hands out round-robin, as CUDA does; the current stream is
// per thread. xinhe work is asynchronous, so anything
// that touches device memory from the host (copies to the CPU, the CPU fallback, freeing a
// buffer) first waits for the device's queued work (sync_device).
#ifndef XINHE_PYTHON_TORCH_RUNTIME_H_
#define XINHE_PYTHON_TORCH_RUNTIME_H_

#include <ATen/ATen.h>
#include <c10/core/Allocator.h>

#include <cstdint>
#include <string>

#include "xinhe/xinhe.h"

namespace xinhe_torch {

// Throws a c10::Error carrying the status text; takes ownership of status.
void check(xinhe_status_t status, const char* what);

int device_count();
xinhe_device_t xinhe_device(int index);
const xinhe_device_properties_t& device_properties(int index);
bool host_addressable(int index);  // the allocator hands out real host addresses

// The current stream of device index for this thread (created on first use).
xinhe_stream_t current_stream(int index);
// Marks that work was queued on the device, so host accesses must wait for it.
void note_pending(int index);
// Waits for every stream of the device when work is pending.
void sync_device(int index);
void sync_all_devices();

// Where a data pointer lives: its buffer and the byte offset of the pointer within it.
struct Location {
  xinhe_buffer_t buffer = nullptr;
  uint64_t offset = 0;
  uint64_t buffer_size = 0;
  int device = -1;
};
// The location of a tensor's first element; raises when the pointer is not ours.
Location locate(const at::Tensor& tensor);

// Bytes a strided tensor spans from its first element (0 when empty).
uint64_t span_bytes(const at::Tensor& tensor);

c10::Allocator* allocator();

// A xinhe tensor on device index sharing the memory of a CPU tensor (its storage is kept
// alive), for devices that can use host memory in place; undefined when that is impossible
// (alignment, memory already xinhe's, a backend without xinhe_buffer_wrap_host).
// Raises for a tensor that is not a plain strided tensor (quantized, sparse, nested, mkldnn):
// adopting one would wrap its bytes as a plain tensor of its dtype, and ops on it then read
// garbage or crash.
at::Tensor adopt_host_tensor(const at::Tensor& cpu, int index);

// What a tensor is when it is not a plain strided tensor ("quantized", "sparse (COO)",
// "nested", "mkldnn", ...), else "". xinhe tensors are plain strided tensors only.
std::string non_plain_kind(const at::Tensor& t);

// Bytes of xinhe memory held by live tensors of device index (allocations and adopted host
// results), as torch.cuda.memory_allocated counts them.
int64_t memory_allocated(int index);

// Counters, log and strict mode (see ops.cpp).
enum class Where { kXinhe, kFallback };
void record_op(const char* op, Where where, double flops, const std::string& detail);
// "all": any fallback raises; "routed": only ops xinhe routes (mm, addmm, bmm, SDPA) raise
// when they fall back; "off".
const char* strict_mode();

}  // namespace xinhe_torch

#endif  // XINHE_PYTHON_TORCH_RUNTIME_H_
