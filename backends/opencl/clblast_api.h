// CLBlast's C entry points for SGEMM, loaded from libclblast.so.1 on first use (declared
// here with plain types, so no CLBlast header or link dependency is needed).
#pragma once

#include <mutex>
#include <string>

#include "cl_loader.h"

namespace xinhe::opencl {

struct ClBlastApi {
  // CLBlastLayout / CLBlastTranspose values from clblast_c.h.
  static constexpr int kRowMajor = 101;
  static constexpr int kTransposeNo = 111;
  static constexpr int kTransposeYes = 112;
  using SgemmFn = int (*)(int layout, int a_transpose, int b_transpose, size_t m, size_t n,
                          size_t k, float alpha, cl_mem a, size_t a_offset, size_t a_ld, cl_mem b,
                          size_t b_offset, size_t b_ld, float beta, cl_mem c, size_t c_offset,
                          size_t c_ld, cl_command_queue* queue, cl_event* event);
  using SgemmStridedBatchedFn = int (*)(int layout, int a_transpose, int b_transpose, size_t m,
                                        size_t n, size_t k, float alpha, cl_mem a, size_t a_offset,
                                        size_t a_ld, size_t a_stride, cl_mem b, size_t b_offset,
                                        size_t b_ld, size_t b_stride, float beta, cl_mem c,
                                        size_t c_offset, size_t c_ld, size_t c_stride,
                                        size_t batch_count, cl_command_queue* queue,
                                        cl_event* event);
  void* library = nullptr;
  SgemmFn sgemm = nullptr;
  SgemmStridedBatchedFn sgemm_strided_batched = nullptr;
  // Held around every call: CLBlast 1.5's kernel and database caches race on concurrent first
  // calls (one op run from two streams crashed in its Database constructor; CLBlast issue
  // #486, fixed after the 1.5.3 Debian ships). The calls only enqueue, so the lock is short.
  std::mutex call_mutex;
  ~ClBlastApi();
};

struct Backend;
// The backend's CLBlast, loading it on the first call; nullptr with *reason when unusable.
ClBlastApi* clblast_get(Backend* backend, std::string* reason);

}  // namespace xinhe::opencl
