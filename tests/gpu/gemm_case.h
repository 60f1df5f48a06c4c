// A GEMM test case shared by the GPU plugin test and the host emulation test of the GPU kernels,
// and the xinhe_gemm_desc_t it describes (row-major, optional padding and B broadcast).
#pragma once

#include <cstdint>

#include "xinhe/ops.h"

namespace xinhe_gpu_test {

struct GemmCase {
  xinhe_dtype_t ab, c;
  int trans_a, trans_b;
  int64_t m, n, k, batch;
  int64_t pad;       // extra elements per row of every operand; -1: round rows up to 8
  bool broadcast_b;  // stride_b = 0
  float alpha, beta;
};

inline int64_t b_rows(const GemmCase& g) { return g.trans_b ? g.n : g.k; }

inline xinhe_gemm_desc_t gemm_desc(const GemmCase& g) {
  xinhe_gemm_desc_t d{};
  d.struct_size = sizeof d;
  d.ab_dtype = g.ab;
  d.c_dtype = g.c;
  d.trans_a = g.trans_a;
  d.trans_b = g.trans_b;
  d.m = g.m;
  d.n = g.n;
  d.k = g.k;
  d.batch = g.batch;
  const int64_t a_rows = g.trans_a ? g.k : g.m, a_cols = g.trans_a ? g.m : g.k;
  const int64_t b_cols = g.trans_b ? g.k : g.n;
  // pad < 0: rows rounded up to 8 elements, as the tensor-core path requires.
  auto leading = [&](int64_t cols) { return g.pad < 0 ? (cols + 7) / 8 * 8 : cols + g.pad; };
  d.lda = leading(a_cols);
  d.ldb = leading(b_cols);
  d.ldc = leading(g.n);
  d.stride_a = a_rows * d.lda;
  d.stride_b = g.broadcast_b ? 0 : b_rows(g) * d.ldb;
  d.stride_c = g.m * d.ldc;
  return d;
}

}  // namespace xinhe_gpu_test
