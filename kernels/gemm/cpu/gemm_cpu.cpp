// CPU GEMM: the ordered implementation list and the BLIS-style blocked driver.
//
// The driver (this file, baseline ISA) walks the classic loop nest
//   jc: N in nc-column panels  ->  pc: K in kc slices (pack B (kc, nc) once, shared)
//     ->  ic: M in mc-row blocks (pack A (mc, kc) per thread)  ->  jr / ir: micro-tiles
// (f32 A is read in place instead when a thread's share of columns is too narrow to repay
// packing it: kAInPlaceMaxCols)
// and calls the per-ISA packing routines and micro-kernel (gemm_packed.h) through pointers.
// The f32 kernels widen f16/bf16 inputs to f32 while packing; the 16-bit kernels
// (gemm_lowp_body.inc) pack them as they are into pair or tile layouts; accumulation is always
// f32. Threads split each (kc, nc) block over a tm x tn grid of the M and N micro-tiles, picked
// per block so that both large-M (4096x4096x64) and small-M (64x4096x4096) shapes keep every
// thread busy; when the grid splits only N, one fork-join covers all K slices of a panel.
//
// Batches of small matrices instead give each thread whole matrices.
//
// Memory: the packing buffers come from the caller's workspace, so run() never allocates.
// A packed run needs workspace_size(desc, parallel.threads()) bytes (one A block per thread).
// Tiny problems (and those with M or N <= 2, where packing costs as much as the arithmetic)
// skip packing and need no workspace; they use direct f32-accumulating loops, which are also
// the reference implementation (cpu.gemm.reference_<dtypes>).
//
// List order: AMX (bf16, f16), AVX512_BF16 (bf16), AVX-512, AVX2, oneDNN, OpenBLAS, portable,
// reference; each kernel is selected only where its unit is usable (cpu_features.h), the
// 16-bit ones only for their input dtype. A documented static order, not a measured one:
// on the 2-core Zen 4 (AVX-512, AVX512_BF16) xinhe's kernels and oneDNN 2.6's matmul measured
// within about 10 % of each other either way on one thread (f32 and bf16, 256^3, 1024^3,
// 4096x4096x64, 64x4096x4096, process CPU time on a shared machine), and xinhe's run on the
// caller's pool and workspace where oneDNN brings an OpenMP team of its own; so oneDNN goes
// after xinhe's kernels and before OpenBLAS, and XINHE_GEMM_IMPL=onednn selects it. The AMX
// kernels have not been timed (no AMX machine was available): where oneDNN measures faster on
// one, move it up. The AVX2 kernel measured on par with OpenBLAS 0.3.21 for square f32 on a
// 2-core EPYC (0.93-1.04x), faster on 4096x4096x64 (~1.25x), slower on 64x4096x4096 (~0.87x).
//
// No AVX512_FP16 kernel: f16 GEMM accumulates in f32 here, and AVX512_FP16's arithmetic
// (vfmadd*ph) accumulates in f16 (about 3 significant digits per add); the unit has no
// widening f16 dot product (vdpphps is AVX10.2). With f32 accumulation its only use would be
// converting f16 inside the micro-kernel (vcvtph2psx), which takes FMA-port slots the f32
// kernel's packing-time conversion does not. f16 runs on AMX-FP16 where present, else on the
// AVX-512 (or AVX2) f32 kernel, whose peak is the f32 FMA's.
#include "gemm_cpu.h"

#include <algorithm>
#include <cassert>
#include <climits>
#include <cstring>

#include "checked_math.h"
#include "cpu_features.h"
#include "gemm_onednn.h"
#include "gemm_openblas.h"
#include "gemm_packed.h"
#include "half.h"

namespace xinhe::kernels::cpu {
namespace {

constexpr int64_t kAlign = 64;  // packed strips are loaded as full vectors

// Without the (a + b - 1) that wraps for sizes near 2^63.
int64_t ceil_div(int64_t a, int64_t b) { return a / b + (a % b != 0 ? 1 : 0); }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }
int64_t dtype_bytes(xinhe_dtype_t dtype) { return dtype == XINHE_DTYPE_F32 ? 4 : 2; }

bool is_input_dtype(xinhe_dtype_t dtype) {
  return dtype == XINHE_DTYPE_F32 || dtype == XINHE_DTYPE_F16 || dtype == XINHE_DTYPE_BF16;
}

// Shared by every implementation: what the description must be for any of them.
const char* desc_unsupported_reason(const xinhe_gemm_desc_t& d) {
  if (!is_input_dtype(d.ab_dtype)) return "A/B dtype must be f32, f16 or bf16";
  if (d.c_dtype != d.ab_dtype && d.c_dtype != XINHE_DTYPE_F32) return "C dtype must be f32 or A's";
  return nullptr;
}

template <xinhe_dtype_t kDtype>
struct Elem;
template <>
struct Elem<XINHE_DTYPE_F32> {
  using Storage = float;
  static float load(float v) { return v; }
};
template <>
struct Elem<XINHE_DTYPE_F16> {
  using Storage = uint16_t;
  static float load(uint16_t v) { return f16_to_f32(v); }
};
template <>
struct Elem<XINHE_DTYPE_BF16> {
  using Storage = uint16_t;
  static float load(uint16_t v) { return bf16_to_f32(v); }
};

float load_c(xinhe_dtype_t dtype, const void* c, int64_t index) {
  switch (dtype) {
    case XINHE_DTYPE_F16:
      return f16_to_f32(static_cast<const uint16_t*>(c)[index]);
    case XINHE_DTYPE_BF16:
      return bf16_to_f32(static_cast<const uint16_t*>(c)[index]);
    default:
      return static_cast<const float*>(c)[index];
  }
}

// C[index] = value + beta * C[index]; C is not read when beta == 0.
void update_c(xinhe_dtype_t dtype, void* c, int64_t index, float value, float beta) {
  if (beta != 0.0f) value += beta * load_c(dtype, c, index);
  switch (dtype) {
    case XINHE_DTYPE_F16:
      static_cast<uint16_t*>(c)[index] = f32_to_f16(value);
      break;
    case XINHE_DTYPE_BF16:
      static_cast<uint16_t*>(c)[index] = f32_to_bf16(value);
      break;
    default:
      static_cast<float*>(c)[index] = value;
      break;
  }
}

const char* byte_ptr(const void* base, int64_t elements, xinhe_dtype_t dtype) {
  return static_cast<const char*>(base) + elements * dtype_bytes(dtype);
}
char* byte_ptr(void* base, int64_t elements, xinhe_dtype_t dtype) {
  return static_cast<char*>(base) + elements * dtype_bytes(dtype);
}

// Handles what needs no arithmetic: empty C, and K == 0 or alpha == 0, which BLAS defines as
// C = beta * C with A and B unread: beta == 1 leaves C as it is (-0.0 and NaN included), beta
// == 0 writes +0.0, other betas scale (beta * -0.0 keeps its sign; 0 + beta * C would not).
// Returns true when the problem is done.
bool run_trivial(const GemmProblem& p) {
  const xinhe_gemm_desc_t& d = p.desc;
  if (d.m == 0 || d.n == 0 || d.batch == 0) return true;
  if (d.k != 0 && p.alpha != 0.0f) return false;
  if (p.beta == 1.0f) return true;
  for (int64_t b = 0; b < d.batch; ++b) {
    void* c = byte_ptr(p.c, b * d.stride_c, d.c_dtype);
    for (int64_t i = 0; i < d.m; ++i) {
      for (int64_t j = 0; j < d.n; ++j) {
        const int64_t at = i * d.ldc + j;
        const float value = p.beta == 0.0f ? 0.0f : p.beta * load_c(d.c_dtype, c, at);
        update_c(d.c_dtype, c, at, value, 0.0f);
      }
    }
  }
  return true;
}

// ---- Direct loops: no packing, f32 accumulation. ------------------------------------------

// A rectangle of the batch-flattened (batch * M, N) output: rows [row_begin, row_end),
// columns [col_begin, col_end).
struct OutputRange {
  int64_t row_begin, row_end, col_begin, col_end;
};

template <xinhe_dtype_t kDtype>
void direct_gemm(const GemmProblem& p, const OutputRange& range) {
  using E = Elem<kDtype>;
  using S = typename E::Storage;
  const xinhe_gemm_desc_t& d = p.desc;
  // op(A)(i, k) = a[i * a_i + k * a_k]; op(B)(k, j) = b[k * b_k + j * b_j]
  const int64_t a_i = d.trans_a ? 1 : d.lda, a_k = d.trans_a ? d.lda : 1;
  const int64_t b_k = d.trans_b ? 1 : d.ldb, b_j = d.trans_b ? d.ldb : 1;
  constexpr int64_t kCols = 256;
  float acc[kCols];
  for (int64_t row = range.row_begin; row < range.row_end; ++row) {
    const int64_t batch = row / d.m, i = row % d.m;
    const S* a = static_cast<const S*>(p.a) + batch * d.stride_a + i * a_i;
    const S* b = static_cast<const S*>(p.b) + batch * d.stride_b;
    void* c = byte_ptr(p.c, batch * d.stride_c + i * d.ldc, d.c_dtype);
    for (int64_t j0 = range.col_begin; j0 < range.col_end; j0 += kCols) {
      const int64_t cols = std::min(kCols, range.col_end - j0);
      std::fill(acc, acc + cols, 0.0f);
      for (int64_t k = 0; k < d.k; ++k) {
        const float av = E::load(a[k * a_k]);
        const S* b_row = b + k * b_k + j0 * b_j;
        if (b_j == 1) {
          for (int64_t j = 0; j < cols; ++j) acc[j] += av * E::load(b_row[j]);
        } else {
          for (int64_t j = 0; j < cols; ++j) acc[j] += av * E::load(b_row[j * b_j]);
        }
      }
      for (int64_t j = 0; j < cols; ++j) update_c(d.c_dtype, c, j0 + j, p.alpha * acc[j], p.beta);
    }
  }
}

void direct_gemm(const GemmProblem& p, const OutputRange& range) {
  switch (p.desc.ab_dtype) {
    case XINHE_DTYPE_F16:
      direct_gemm<XINHE_DTYPE_F16>(p, range);
      break;
    case XINHE_DTYPE_BF16:
      direct_gemm<XINHE_DTYPE_BF16>(p, range);
      break;
    default:
      direct_gemm<XINHE_DTYPE_F32>(p, range);
      break;
  }
}

double gemm_flops(const xinhe_gemm_desc_t& d) {
  return 2.0 * static_cast<double>(d.m) * static_cast<double>(d.n) * static_cast<double>(d.k);
}

// Below this much arithmetic per thread (~6 us), a fork-join costs more than it saves: the
// pool's workers spin between regions, so handing them work takes a microsecond or two.
constexpr double kFlopsPerThread = 2.0 * 64 * 64 * 64;

int useful_threads(double flops, int threads) {
  const double by_work = flops / kFlopsPerThread;
  return by_work < threads ? std::max(1, static_cast<int>(by_work)) : threads;
}

// Splits rows among threads, or columns when there are fewer rows than threads (a GEMV).
void run_direct(const GemmProblem& p, Parallel& parallel) {
  const xinhe_gemm_desc_t& d = p.desc;
  const int64_t rows = d.batch * d.m;
  const int threads = useful_threads(gemm_flops(d) * d.batch, parallel.threads());
  if (threads <= 1) {
    direct_gemm(p, OutputRange{0, rows, 0, d.n});
    return;
  }
  const bool split_rows = rows >= threads;
  parallel.parallel_for(threads, [&](int64_t t) {
    if (split_rows) {
      direct_gemm(p, OutputRange{rows * t / threads, rows * (t + 1) / threads, 0, d.n});
    } else {
      direct_gemm(p, OutputRange{0, rows, d.n * t / threads, d.n * (t + 1) / threads});
    }
  });
}

// GEMV-like shapes read each element of the big operand once either way, and tiny ones
// finish before packing would have been set up.
bool prefers_direct(const xinhe_gemm_desc_t& d) {
  return d.m <= 2 || d.n <= 2 || gemm_flops(d) <= 2.0 * 16 * 16 * 16;
}

// ---- Small M: GEMV-like shapes, B streamed once without packing. ------------------------------

// With M (or N) at most kSmallMaxM, packing B costs as much as the multiply-adds and the
// direct loops above run at a fraction of the memory bandwidth (a B-transposed GEMV walked B
// across its rows). The kernels' small_m takes the rows of op(A) (or, for small N, the columns
// of op(B), computing C^T = op(B)^T op(A)^T) as f32 rows contiguous along K, and W = the other
// operand straight from memory; the driver applies alpha, beta and C's dtype and strides.
struct SmallMView {
  bool swapped;         // small N: rows of C^T
  int64_t m, n;         // rows of x, columns of the output
  int64_t x_i, x_k;     // x(i, k) = x_base[i * x_i + k * x_k], ab dtype
  int64_t x_batch;      // batch stride of x's operand
  bool w_rows_along_k;  // W(j, k) = w[j * ldw + k], else w[k * ldw + j]
  int64_t ldw, w_batch;
  int64_t c_i, c_j;  // output (i, j) at c[i * c_i + j * c_j]
  bool pack_x;       // x is not f32 rows contiguous along K: packed into the workspace
};

SmallMView small_m_view(const xinhe_gemm_desc_t& d) {
  SmallMView v{};
  v.swapped = d.n < d.m;
  const bool f32 = d.ab_dtype == XINHE_DTYPE_F32;
  if (!v.swapped) {  // x = rows of op(A), W(j, k) = op(B)(k, j)
    v.m = d.m;
    v.n = d.n;
    v.x_i = d.trans_a ? 1 : d.lda;
    v.x_k = d.trans_a ? d.lda : 1;
    v.x_batch = d.stride_a;
    v.w_rows_along_k = d.trans_b != 0;
    v.ldw = d.ldb;
    v.w_batch = d.stride_b;
    v.c_i = d.ldc;
    v.c_j = 1;
  } else {  // x = columns of op(B), W(j, k) = op(A)(j, k)
    v.m = d.n;
    v.n = d.m;
    v.x_i = d.trans_b ? d.ldb : 1;
    v.x_k = d.trans_b ? 1 : d.ldb;
    v.x_batch = d.stride_b;
    v.w_rows_along_k = d.trans_a == 0;
    v.ldw = d.lda;
    v.w_batch = d.stride_a;
    v.c_i = 1;
    v.c_j = d.ldc;
  }
  v.pack_x = !f32 || v.x_k != 1;
  return v;
}

bool uses_small_m(const PackedKernels& kern, const xinhe_gemm_desc_t& d) {
  return kern.small_m[d.ab_dtype] != nullptr && std::min(d.m, d.n) <= kSmallMaxM &&
         gemm_flops(d) > 2.0 * 16 * 16 * 16;
}

// Columns of the output per kernel call: the f32 results of one call (kSmallMaxM rows) stay
// in L1 before the driver stores them into C.
constexpr int64_t kSmallMChunk = 512;

// Bytes per thread of packed x (0 when x is used in place), checked.
xinhe::util::CheckedSize small_m_x_bytes(const xinhe_gemm_desc_t& d) {
  const SmallMView v = small_m_view(d);
  using xinhe::util::CheckedSize;
  if (!v.pack_x) return CheckedSize(0);
  const CheckedSize bytes = CheckedSize::of(v.m) * CheckedSize::of(d.k) * 4u + (kAlign - 1);
  return bytes.ok() ? CheckedSize(bytes.value() / kAlign * kAlign) : bytes;
}

void run_small_m(const PackedKernels& kern, const GemmProblem& p, Parallel& parallel) {
  const xinhe_gemm_desc_t& d = p.desc;
  const SmallMView v = small_m_view(d);
  // Split the output columns; in multiples of 64 so that each thread's vectors stay whole.
  constexpr int64_t kSplit = 64;
  const int64_t units = ceil_div(v.n, kSplit);
  const int threads = static_cast<int>(
      std::min<int64_t>(useful_threads(gemm_flops(d) * d.batch, parallel.threads()), units));
  const int64_t x_bytes = v.pack_x ? static_cast<int64_t>(small_m_x_bytes(d).value()) : 0;
  char* workspace = nullptr;
  if (v.pack_x) {
    auto base = reinterpret_cast<uintptr_t>(p.workspace);
    workspace = reinterpret_cast<char*>((base + kAlign - 1) / kAlign * kAlign);
  }
  const SmallMFn kernel = kern.small_m[d.ab_dtype];
  auto task = [&](int64_t t) {
    const int64_t j_begin = std::min(v.n, units * t / threads * kSplit);
    const int64_t j_end = std::min(v.n, units * (t + 1) / threads * kSplit);
    if (j_begin >= j_end) return;
    float* x_pack = v.pack_x ? reinterpret_cast<float*>(workspace + t * x_bytes) : nullptr;
    alignas(kAlign) float out[kSmallMaxM * kSmallMChunk];
    for (int64_t batch = 0; batch < d.batch; ++batch) {
      const char* x_src = byte_ptr(v.swapped ? p.b : p.a, batch * v.x_batch, d.ab_dtype);
      const float* x = reinterpret_cast<const float*>(x_src);
      int64_t ldx = v.x_i;
      if (v.pack_x) {
        for (int64_t i = 0; i < v.m; ++i) {
          for (int64_t k = 0; k < d.k; ++k) {
            x_pack[i * d.k + k] = load_c(d.ab_dtype, x_src, i * v.x_i + k * v.x_k);
          }
        }
        x = x_pack;
        ldx = d.k;
      }
      const char* w = byte_ptr(v.swapped ? p.a : p.b, batch * v.w_batch, d.ab_dtype);
      void* c = byte_ptr(p.c, batch * d.stride_c, d.c_dtype);
      for (int64_t j0 = j_begin; j0 < j_end; j0 += kSmallMChunk) {
        const int64_t cols = std::min(kSmallMChunk, j_end - j0);
        kernel(v.m, cols, d.k, x, ldx, byte_ptr(w, v.w_rows_along_k ? j0 * v.ldw : j0, d.ab_dtype),
               v.ldw, v.w_rows_along_k, out, kSmallMChunk);
        for (int64_t i = 0; i < v.m; ++i) {
          for (int64_t j = 0; j < cols; ++j) {
            update_c(d.c_dtype, c, i * v.c_i + (j0 + j) * v.c_j,
                     p.alpha * out[i * kSmallMChunk + j], p.beta);
          }
        }
      }
    }
  };
  if (threads <= 1) {
    task(0);
  } else {
    parallel.parallel_for(threads, task);
  }
}

// ---- Packed, blocked driver. ---------------------------------------------------------------

struct Blocking {
  int64_t mc, kc, nc;
};

Blocking choose_blocking(const PackedKernels& kern, const xinhe_gemm_desc_t& d) {
  Blocking bl;
  if (d.c_dtype == XINHE_DTYPE_F32) {
    // Even slices: K = 300 becomes 2 x 150 rather than 256 + 44.
    bl.kc = ceil_div(d.k, ceil_div(d.k, kern.kc));
  } else {
    // A half-precision C is rounded once: all of K goes through one slice, and the A block
    // and B panel shrink to keep their byte sizes.
    bl.kc = std::max<int64_t>(d.k, 1);
  }
  // Every slice but the last is a whole number of the kernel's K units. (A K near 2^63 is
  // left as it is: packed_workspace_size() then finds the panel does not fit.)
  if (bl.kc <= INT64_MAX - kern.k_unit) bl.kc = round_up(bl.kc, kern.k_unit);
  const double shrink = bl.kc > kern.kc ? static_cast<double>(kern.kc) / bl.kc : 1.0;
  bl.mc = std::max<int64_t>(kern.mr, static_cast<int64_t>(kern.mc * shrink) / kern.mr * kern.mr);
  bl.nc = std::max<int64_t>(kern.nr, static_cast<int64_t>(kern.nc * shrink) / kern.nr * kern.nr);
  // bl.mc and bl.nc are multiples of mr and nr: rounding min(size, block) up gives the same
  // block without rounding a size near 2^63 up past the int64 range.
  bl.mc = std::min(bl.mc, round_up(std::clamp<int64_t>(d.m, 1, bl.mc), kern.mr));
  bl.nc = std::min(bl.nc, round_up(std::clamp<int64_t>(d.n, 1, bl.nc), kern.nr));
  return bl;
}

// Run-time sizes of the packing buffers; packed_workspace_size() checked that they fit.
// bl.kc is a multiple of k_unit, bl.nc of nr and bl.mc of mr (choose_blocking), so a packed
// slice's padded K and edge strips fit.
int64_t b_pack_bytes(const PackedKernels& kern, const Blocking& bl) {
  return round_up(bl.kc * bl.nc * kern.packed_bytes, kAlign);
}
int64_t a_pack_bytes(const PackedKernels& kern, const Blocking& bl) {
  return round_up(bl.mc * bl.kc * kern.packed_bytes, kAlign);
}

// rows * cols packed elements rounded up to kAlign bytes, checked: kc is all of K for a
// half-precision C, so K near 2^60 would wrap the unchecked product.
xinhe::util::CheckedSize pack_bytes_checked(int64_t rows, int64_t cols, int elem_bytes) {
  using xinhe::util::CheckedSize;
  const CheckedSize bytes =
      CheckedSize::of(rows) * CheckedSize::of(cols) * static_cast<uint64_t>(elem_bytes) +
      (kAlign - 1);
  return bytes.ok() ? CheckedSize(bytes.value() / kAlign * kAlign) : bytes;
}

// Batches of small matrices run one matrix per thread (each with its own packing buffers)
// rather than splitting each small matrix between threads.
bool splits_batch(const xinhe_gemm_desc_t& d, int threads) {
  constexpr double kSmallMatrixFlops = 2.0 * 128 * 128 * 128;
  return threads > 1 && d.batch > 1 && gemm_flops(d) < 4.0 * threads * kSmallMatrixFlops;
}

// Workspace: a B panel shared by all threads plus one A block per thread, or, when the batch
// is split, a B panel and an A block per thread.
uint64_t packed_workspace_size(const PackedKernels& kern, const xinhe_gemm_desc_t& d, int threads) {
  if (d.m == 0 || d.n == 0 || d.k == 0 || d.batch == 0) return 0;
  threads = std::max(threads, 1);
  if (uses_small_m(kern, d)) {
    const xinhe::util::CheckedSize x_bytes = small_m_x_bytes(d);
    if (x_bytes.ok() && x_bytes.value() == 0) return 0;
    const xinhe::util::CheckedSize total =
        xinhe::util::CheckedSize(kAlign) + x_bytes * static_cast<uint64_t>(threads);
    if (!total.ok() || total.value() > static_cast<uint64_t>(INT64_MAX)) {
      return xinhe::util::kSizeOverflow;
    }
    return total.value();
  }
  if (prefers_direct(d)) return 0;
  const Blocking bl = choose_blocking(kern, d);
  const uint64_t b_panels = splits_batch(d, threads) ? static_cast<uint64_t>(threads) : 1u;
  // kSizeOverflow: the workspace cannot be represented, so this implementation cannot run.
  // Checked to the last byte so that the int64 offsets run() forms from it cannot wrap either.
  const xinhe::util::CheckedSize total =
      xinhe::util::CheckedSize(kAlign) +
      pack_bytes_checked(bl.kc, bl.nc, kern.packed_bytes) * b_panels +
      pack_bytes_checked(bl.mc, bl.kc, kern.packed_bytes) * static_cast<uint64_t>(threads);
  if (!total.ok() || total.value() > static_cast<uint64_t>(INT64_MAX)) {
    return xinhe::util::kSizeOverflow;
  }
  return total.value();
}

// A thread whose share of a block is at most this many columns reads f32 A's rows in place
// (micro_kernel_a_rows) instead of packing them: packing an (mc, kc) block costs about as much
// as 16 of its columns' multiply-adds. Measured on the Zen 4 VM in one process, 15 alternating
// rounds: 256^3-768^3 on two threads 1.03-1.14x faster in place (the grid then splits N without
// packing A in both threads), on one thread 1.00-1.03x; the AVX2 kernel 0.98-1.08x. Wider
// shares gained nothing (1536^3 and 4096x4096x64 ran 2-6 % slower in place). Rows lda apart by
// a multiple of 4 KiB (K = 1024, 2048, 4096) land in one L1 set, more than its 8 ways hold for
// the 12 rows of a tile (1024^3 in place: 6 % slower on one thread, 28 % on two), so those
// are packed.
constexpr int64_t kAInPlaceMaxCols = 1024;

// The widest share of columns that reads A in place for this problem; 0 when none does.
int64_t a_in_place_max_cols(const PackedKernels& kern, const xinhe_gemm_desc_t& d) {
  if (kern.micro_kernel_a_rows == nullptr || d.ab_dtype != XINHE_DTYPE_F32 || d.trans_a ||
      d.lda % (4096 / 4) == 0) {
    return 0;
  }
  return kAInPlaceMaxCols;
}

// Threads arranged tm x tn over the (M strips, N strips) of one block, minimising each
// thread's cost in multiply-adds: its micro-tiles, plus what it packs (every thread packs the
// A rows it computes, unless its share is narrow enough to read them in place; with tm == 1 it
// packs its own B strips, otherwise its share of a panel packed by all), plus, with tm > 1,
// what sharing the panel costs: the second fork-join, the B strips a thread reads that other
// threads packed (fetched from their caches rather than its own: without that term, 2-thread
// 64x4096x4096 f32 ran tm = 2 for an A-packing saving of 0.1 % and took 15.2 ms where tm = 1
// takes 13.3-14.0), and the wait at the end of every block for the slowest thread. With
// tm == 1 the threads never wait on each other within a panel (run_panel_by_columns); on the
// 2-thread Zen 4 VM that made 1280^3-3072^3 f32 4-6 % faster than tm = 2, which the cost model
// had preferred by 0.1 %. The wait is counted as 1 % of a block's multiply-adds: at 2 %,
// 1024^3 (A packed by both threads: its rows are 4 KiB apart) also went to tm = 1 and ran
// about 5 % slower.
struct Grid {
  int tm, tn;
};

Grid choose_grid(int threads, int64_t m_strips, int64_t n_strips, int mr, int nr, int64_t kc,
                 int64_t a_in_place_cols) {
  constexpr double kPackCostPerElement = 16.0;  // a packed element ~ 16 multiply-adds
  constexpr double kForkJoinCost = 1e5;         // ~2 us of multiply-adds
  constexpr double kForeignReadCost = 2.0;      // per packed element another thread wrote
  constexpr double kJoinWaitShare = 0.01;       // of a block's multiply-adds
  Grid best{1, threads};
  double best_cost = 0.0;
  for (int tm = 1; tm <= threads; ++tm) {
    if (threads % tm != 0) continue;
    const int tn = threads / tm;
    const double tiles = static_cast<double>(ceil_div(m_strips, tm) * ceil_div(n_strips, tn));
    const bool a_in_place = ceil_div(n_strips, tn) * nr <= a_in_place_cols;
    const double a_packed =
        a_in_place ? 0.0 : static_cast<double>(ceil_div(m_strips, tm) * mr * kc);
    const double b_packed =
        static_cast<double>(ceil_div(n_strips, tm > 1 ? threads : tn) * nr * kc);
    // With tm > 1 a thread reads its tn share of the panel, of which (threads - 1) / threads
    // was packed by the others.
    const double b_foreign =
        tm > 1 ? static_cast<double>(ceil_div(n_strips, tn) * nr * kc) * (threads - 1) / threads
               : 0.0;
    const double work = tiles * mr * nr * kc;
    const double cost =
        work + kPackCostPerElement * (a_packed + b_packed) +
        (tm > 1 ? kForkJoinCost + kForeignReadCost * b_foreign + kJoinWaitShare * work : 0.0);
    if (tm == 1 || cost < best_cost) {
      best_cost = cost;
      best = Grid{tm, tn};
    }
  }
  return best;
}

// One matrix of the batch, and the packing buffers its run uses.
struct MatrixRun {
  const void* a;  // op(A) (M, K) at its batch offset
  const void* b;  // op(B) (K, N)
  void* c;        // C (M, N)
  char* b_pack;   // (kc, nc) panel
  char* a_packs;  // one (mc, kc) block per thread of the run
};

class PackedGemm {
 public:
  // Requires p.workspace of packed_workspace_size(kern, p.desc, threads) bytes.
  PackedGemm(const PackedKernels& kern, const GemmProblem& p, int threads)
      : kern_(kern), p_(p), d_(p.desc), bl_(choose_blocking(kern, p.desc)), threads_(threads) {
    assert(p.workspace != nullptr && "packed GEMM needs workspace_size() bytes of workspace");
    auto base = reinterpret_cast<uintptr_t>(p.workspace);
    workspace_ = reinterpret_cast<char*>((base + kAlign - 1) / kAlign * kAlign);
  }

  void run(Parallel& parallel) {
    if (splits_batch(d_, threads_)) {
      const int workers = static_cast<int>(std::min<int64_t>(threads_, d_.batch));
      parallel.parallel_for(workers, [&](int64_t t) {
        char* own = workspace_ + t * (b_pack_bytes(kern_, bl_) + a_pack_bytes(kern_, bl_));
        SerialParallel serial;
        for (int64_t batch = t; batch < d_.batch; batch += workers) {
          run_matrix(matrix(batch, own, own + b_pack_bytes(kern_, bl_)), serial, 1);
        }
      });
      return;
    }
    for (int64_t batch = 0; batch < d_.batch; ++batch) {
      run_matrix(matrix(batch, workspace_, workspace_ + b_pack_bytes(kern_, bl_)), parallel,
                 threads_);
    }
  }

 private:
  MatrixRun matrix(int64_t batch, char* b_pack, char* a_packs) const {
    return MatrixRun{byte_ptr(p_.a, batch * d_.stride_a, d_.ab_dtype),
                     byte_ptr(p_.b, batch * d_.stride_b, d_.ab_dtype),
                     byte_ptr(p_.c, batch * d_.stride_c, d_.c_dtype), b_pack, a_packs};
  }

  void run_matrix(const MatrixRun& mat, Parallel& parallel, int threads) {
    for (int64_t jc = 0; jc < d_.n; jc += bl_.nc) {
      const int64_t nc = std::min(bl_.nc, d_.n - jc);
      const BlockPlan plan = plan_block(threads, nc, std::min(bl_.kc, d_.k));
      if (plan.threads > 1 && plan.grid.tm == 1) {
        run_panel_by_columns(mat, parallel, plan.threads, jc, nc);
        continue;
      }
      for (int64_t pc = 0; pc < d_.k; pc += bl_.kc) {
        run_block(mat, parallel, threads, jc, nc, pc, std::min(bl_.kc, d_.k - pc),
                  pc == 0 ? p_.beta : 1.0f);
      }
    }
  }

  // The threads and their grid for a (kc, nc) block.
  struct BlockPlan {
    int threads;
    Grid grid;
  };
  BlockPlan plan_block(int max_threads, int64_t nc, int64_t kc) const {
    const int64_t m_strips = ceil_div(d_.m, kern_.mr);
    const int64_t n_strips = ceil_div(nc, kern_.nr);
    const int threads = static_cast<int>(
        std::min<int64_t>(useful_threads(2.0 * d_.m * nc * kc, max_threads), m_strips * n_strips));
    return BlockPlan{threads, choose_grid(threads, m_strips, n_strips, kern_.mr, kern_.nr, kc,
                                          a_in_place_max_cols(kern_, d_))};
  }

  // One fork-join for the whole panel: each thread owns a range of its N strips for every K
  // slice, packing its own B strips and A rows, so no thread waits for another between slices.
  // (A thread may pack the next slice's strips while another still reads this slice's: the
  // parts of the panel buffer each uses never overlap, see b_strips_at.)
  void run_panel_by_columns(const MatrixRun& mat, Parallel& parallel, int threads, int64_t jc,
                            int64_t nc) {
    const int64_t m_strips = ceil_div(d_.m, kern_.mr);
    const int64_t n_strips = ceil_div(nc, kern_.nr);
    parallel.parallel_for(threads, [&](int64_t t) {
      const int64_t q0 = n_strips * t / threads, q1 = n_strips * (t + 1) / threads;
      for (int64_t pc = 0; pc < d_.k; pc += bl_.kc) {
        compute(mat, t, jc, nc, pc, std::min(bl_.kc, d_.k - pc), pc == 0 ? p_.beta : 1.0f, 0,
                m_strips, q0, q1, /*pack_own_b=*/true);
      }
    });
  }

  const void* a_at(const MatrixRun& mat, int64_t i, int64_t k) const {
    return byte_ptr(mat.a, d_.trans_a ? k * d_.lda + i : i * d_.lda + k, d_.ab_dtype);
  }
  const void* b_at(const MatrixRun& mat, int64_t k, int64_t j) const {
    return byte_ptr(mat.b, d_.trans_b ? j * d_.ldb + k : k * d_.ldb + j, d_.ab_dtype);
  }

  // Where B strip q0 of a slice of kc values is packed, strips q0, q0 + 1... following it. A
  // panel shared by all threads is laid out for the slice; a thread's own strips start where
  // they would for the widest slice, so that a thread packing its strips of the next slice
  // (run_panel_by_columns) never writes into those another thread still reads.
  char* b_strips_at(const MatrixRun& mat, int64_t q0, int64_t kc, bool own) const {
    return mat.b_pack + q0 * kern_.nr * packed_k(own ? bl_.kc : kc) * kern_.packed_bytes;
  }

  // Packs N strips [q0, q1) of the block's B slice at `dst` (b_strips_at).
  void pack_b_strips(const MatrixRun& mat, int64_t jc, int64_t nc, int64_t pc, int64_t kc,
                     int64_t q0, int64_t q1, char* dst) {
    const int64_t j0 = q0 * kern_.nr, j1 = std::min(q1 * kern_.nr, nc);
    if (j0 >= j1) return;
    kern_.pack_b[d_.ab_dtype](b_at(mat, pc, jc + j0), d_.ldb, d_.trans_b != 0, kc, j1 - j0, dst);
  }

  // One (kc, nc) block: C[:, jc:jc+nc] (+)= A[:, pc:pc+kc] B[pc:pc+kc, jc:jc+nc].
  void run_block(const MatrixRun& mat, Parallel& parallel, int max_threads, int64_t jc, int64_t nc,
                 int64_t pc, int64_t kc, float beta) {
    const int64_t m_strips = ceil_div(d_.m, kern_.mr);
    const int64_t n_strips = ceil_div(nc, kern_.nr);
    const BlockPlan plan = plan_block(max_threads, nc, kc);
    const int threads = plan.threads;
    const Grid grid = plan.grid;
    // With one thread per column range, each thread packs the B strips only it reads;
    // otherwise all threads pack the panel together first.
    const bool shared_b = grid.tm > 1;
    auto task = [&](int64_t t) {
      const int im = static_cast<int>(t) / grid.tn, in = static_cast<int>(t) % grid.tn;
      const int64_t s0 = m_strips * im / grid.tm, s1 = m_strips * (im + 1) / grid.tm;
      const int64_t q0 = n_strips * in / grid.tn, q1 = n_strips * (in + 1) / grid.tn;
      compute(mat, t, jc, nc, pc, kc, beta, s0, s1, q0, q1, !shared_b);
    };
    if (threads <= 1) {
      task(0);
      return;
    }
    if (shared_b) {
      parallel.parallel_for(threads, [&](int64_t t) {
        const int64_t q0 = n_strips * t / threads, q1 = n_strips * (t + 1) / threads;
        pack_b_strips(mat, jc, nc, pc, kc, q0, q1, b_strips_at(mat, q0, kc, /*own=*/false));
      });
    }
    parallel.parallel_for(threads, task);
  }

  // K of a packed slice of kc values: padded to the kernel's unit.
  int64_t packed_k(int64_t kc) const { return round_up(kc, kern_.k_unit); }

  // Whether a thread computing `cols` columns of a block reads A's rows where they lie.
  bool reads_a_in_place(int64_t cols) const { return cols <= a_in_place_max_cols(kern_, d_); }

  // Micro-tiles of M strips [s0, s1) x N strips [q0, q1) for one (kc, nc) block.
  // With pack_own_b, the thread first packs the B strips [q0, q1) itself, all of them in one
  // pass. (Packing each strip just before its micro-tiles, to go from the packing straight to
  // L1, measured slower for small M: 64x4096x4096 f32 on the Zen 4 VM, about 37 -> 31 ms with
  // the AVX2 kernel and 34 -> 30 ms with AVX-512 on one thread, medians of 3-4 runs.)
  void compute(const MatrixRun& mat, int64_t thread, int64_t jc, int64_t nc, int64_t pc, int64_t kc,
               float beta, int64_t s0, int64_t s1, int64_t q0, int64_t q1, bool pack_own_b) {
    const int mr = kern_.mr, nr = kern_.nr;
    char* a_pack = mat.a_packs + thread * a_pack_bytes(kern_, bl_);
    const int64_t row_end = std::min(s1 * mr, d_.m);
    if (s0 * mr >= row_end || q0 >= q1) return;
    char* b_strips = b_strips_at(mat, q0, kc, pack_own_b);
    if (pack_own_b) pack_b_strips(mat, jc, nc, pc, kc, q0, q1, b_strips);
    const bool c_f32 = d_.c_dtype == XINHE_DTYPE_F32;
    const int64_t strip_bytes = packed_k(kc) * kern_.packed_bytes;  // per row or column
    const bool a_in_place = reads_a_in_place((q1 - q0) * nr);
    if (kern_.enter != nullptr) kern_.enter();
    for (int64_t ic = s0 * mr; ic < row_end; ic += bl_.mc) {
      const int64_t mc = std::min(bl_.mc, row_end - ic);
      // Read in place, only a last strip of fewer than mr rows is packed (at a_pack).
      const int64_t packed_from = a_in_place ? mc / mr * mr : 0;
      if (packed_from < mc) {
        kern_.pack_a[d_.ab_dtype](a_at(mat, ic + packed_from, pc), d_.lda, d_.trans_a != 0,
                                  mc - packed_from, kc, a_pack);
      }
      for (int64_t q = q0; q < q1; ++q) {
        const int64_t j = q * nr;
        const int64_t cols = std::min<int64_t>(nr, nc - j);
        const char* b_strip = b_strips + (q - q0) * nr * strip_bytes;
        for (int64_t ir = 0; ir < mc; ir += mr) {
          const int64_t rows = std::min<int64_t>(mr, mc - ir);
          const int64_t c_index = (ic + ir) * d_.ldc + jc + j;
          if (ir < packed_from) {
            const auto* a_rows = static_cast<const float*>(a_at(mat, ic + ir, pc));
            if (cols == nr) {
              kern_.micro_kernel_a_rows(kc, a_rows, d_.lda, b_strip,
                                        static_cast<float*>(mat.c) + c_index, d_.ldc, p_.alpha,
                                        beta);
            } else {
              alignas(kAlign) float tile[kMaxMr * kMaxNr];
              kern_.micro_kernel_a_rows(kc, a_rows, d_.lda, b_strip, tile, nr, 1.0f, 0.0f);
              kern_.store_tile[d_.c_dtype](tile, nr, rows, cols,
                                           byte_ptr(mat.c, c_index, d_.c_dtype), d_.ldc, p_.alpha,
                                           beta);
            }
            continue;
          }
          const char* a_strip = a_pack + (ir - packed_from) * strip_bytes;
          if (c_f32 && rows == mr && cols == nr) {
            kern_.micro_kernel(kc, a_strip, b_strip, static_cast<float*>(mat.c) + c_index, d_.ldc,
                               p_.alpha, beta);
            continue;
          }
          if (!c_f32 && rows == mr && cols == nr &&
              kern_.micro_kernel_half_c[d_.c_dtype - 1] != nullptr) {
            kern_.micro_kernel_half_c[d_.c_dtype - 1](
                kc, a_strip, b_strip, byte_ptr(mat.c, c_index, d_.c_dtype), d_.ldc, p_.alpha, beta);
            continue;
          }
          // A strip of fewer than mr rows runs only its rows, where the kernels can.
          const bool edge_rows = rows < mr && kern_.edge_rows != nullptr;
          if (edge_rows && c_f32 && cols == nr) {
            kern_.edge_rows(static_cast<int>(rows), kc, a_strip, b_strip,
                            static_cast<float*>(mat.c) + c_index, d_.ldc, p_.alpha, beta);
            continue;
          }
          // Edge tile or half-precision C: compute the tile aside, then store its part.
          // The micro-kernel prefetches only its own scratch tile: fetch C's lines for writing
          // now, so the store below does not wait on their misses (4096x4096x64 bf16).
          for (int64_t r = 0; r < rows; ++r) {
            __builtin_prefetch(byte_ptr(mat.c, c_index + r * d_.ldc, d_.c_dtype), 1);
            __builtin_prefetch(byte_ptr(mat.c, c_index + r * d_.ldc + cols - 1, d_.c_dtype), 1);
          }
          alignas(kAlign) float tile[kMaxMr * kMaxNr];
          if (edge_rows) {
            kern_.edge_rows(static_cast<int>(rows), kc, a_strip, b_strip, tile, nr, 1.0f, 0.0f);
          } else {
            kern_.micro_kernel(kc, a_strip, b_strip, tile, nr, 1.0f, 0.0f);
          }
          kern_.store_tile[d_.c_dtype](tile, nr, rows, cols, byte_ptr(mat.c, c_index, d_.c_dtype),
                                       d_.ldc, p_.alpha, beta);
        }
      }
    }
    if (kern_.leave != nullptr) kern_.leave();
  }

  const PackedKernels& kern_;
  const GemmProblem& p_;
  const xinhe_gemm_desc_t& d_;
  const Blocking bl_;
  const int threads_;
  char* workspace_;  // 64-byte aligned start of the caller's workspace
};

void run_packed(const PackedKernels& kern, const GemmProblem& p, Parallel& parallel) {
  if (run_trivial(p)) return;
  if (uses_small_m(kern, p.desc)) {
    run_small_m(kern, p, parallel);
    return;
  }
  if (prefers_direct(p.desc)) {
    run_direct(p, parallel);
    return;
  }
  PackedGemm(kern, p, parallel.threads()).run(parallel);
}

// ---- Implementations. -----------------------------------------------------------------------

#if defined(XINHE_GEMM_X86_64)
// The 16-bit kernels multiply one input dtype each, with f32 accumulation; C is f32 or A's.
const char* lowp_unsupported_reason(const xinhe_gemm_desc_t& d, xinhe_dtype_t dtype,
                                    CpuFeature feature) {
  if (const char* why = desc_unsupported_reason(d)) return why;
  if (d.ab_dtype != dtype) {
    return dtype == XINHE_DTYPE_BF16 ? "multiplies bf16 A and B only"
                                     : "multiplies f16 A and B only";
  }
  return cpu_feature_unavailable(feature);
}

const char* amx_bf16_unsupported_reason(const xinhe_gemm_desc_t& d) {
  return lowp_unsupported_reason(d, XINHE_DTYPE_BF16, CpuFeature::kAmxBf16);
}
uint64_t amx_bf16_workspace_size(const xinhe_gemm_desc_t& d, int threads) {
  return packed_workspace_size(packed_kernels_amx_bf16(), d, threads);
}
void amx_bf16_run(const GemmProblem& p, Parallel& parallel) {
  run_packed(packed_kernels_amx_bf16(), p, parallel);
}

const char* amx_fp16_unsupported_reason(const xinhe_gemm_desc_t& d) {
  return lowp_unsupported_reason(d, XINHE_DTYPE_F16, CpuFeature::kAmxFp16);
}
uint64_t amx_fp16_workspace_size(const xinhe_gemm_desc_t& d, int threads) {
  return packed_workspace_size(packed_kernels_amx_fp16(), d, threads);
}
void amx_fp16_run(const GemmProblem& p, Parallel& parallel) {
  run_packed(packed_kernels_amx_fp16(), p, parallel);
}

const char* avx512_bf16_unsupported_reason(const xinhe_gemm_desc_t& d) {
  return lowp_unsupported_reason(d, XINHE_DTYPE_BF16, CpuFeature::kAvx512Bf16);
}
uint64_t avx512_bf16_workspace_size(const xinhe_gemm_desc_t& d, int threads) {
  return packed_workspace_size(packed_kernels_avx512_bf16(), d, threads);
}
void avx512_bf16_run(const GemmProblem& p, Parallel& parallel) {
  run_packed(packed_kernels_avx512_bf16(), p, parallel);
}

const char* avx512_unsupported_reason(const xinhe_gemm_desc_t& d) {
  if (const char* why = cpu_feature_unavailable(CpuFeature::kAvx512)) return why;
  return desc_unsupported_reason(d);
}
uint64_t avx512_workspace_size(const xinhe_gemm_desc_t& d, int threads) {
  return packed_workspace_size(packed_kernels_avx512(), d, threads);
}
void avx512_run(const GemmProblem& p, Parallel& parallel) {
  run_packed(packed_kernels_avx512(), p, parallel);
}

const char* avx2_unsupported_reason(const xinhe_gemm_desc_t& d) {
  if (const char* why = cpu_feature_unavailable(CpuFeature::kAvx2)) return why;
  return desc_unsupported_reason(d);
}
uint64_t avx2_workspace_size(const xinhe_gemm_desc_t& d, int threads) {
  return packed_workspace_size(packed_kernels_avx2(), d, threads);
}
void avx2_run(const GemmProblem& p, Parallel& parallel) {
  run_packed(packed_kernels_avx2(), p, parallel);
}
#endif

const char* portable_unsupported_reason(const xinhe_gemm_desc_t& d) {
  return desc_unsupported_reason(d);
}
uint64_t portable_workspace_size(const xinhe_gemm_desc_t& d, int threads) {
  return packed_workspace_size(packed_kernels_portable(), d, threads);
}
void portable_run(const GemmProblem& p, Parallel& parallel) {
  run_packed(packed_kernels_portable(), p, parallel);
}

const char* openblas_unsupported_reason(const xinhe_gemm_desc_t& d) {
  if (const char* why = desc_unsupported_reason(d)) return why;
  if (d.ab_dtype != XINHE_DTYPE_F32 || d.c_dtype != XINHE_DTYPE_F32) {
    return "OpenBLAS path computes f32 only";
  }
  const int64_t dims[] = {d.m, d.n, d.k, d.lda, d.ldb, d.ldc};
  for (int64_t v : dims) {
    if (v > INT_MAX) return "OpenBLAS takes int sizes and leading dimensions";
  }
  return openblas_unavailable_reason();
}
uint64_t no_workspace(const xinhe_gemm_desc_t&, int) { return 0; }
void openblas_run(const GemmProblem& p, Parallel& parallel) {
  if (run_trivial(p)) return;
  const xinhe_gemm_desc_t& d = p.desc;
  for (int64_t b = 0; b < d.batch; ++b) {
    openblas_sgemm(d.trans_a != 0, d.trans_b != 0, d.m, d.n, d.k, p.alpha,
                   static_cast<const float*>(p.a) + b * d.stride_a, d.lda,
                   static_cast<const float*>(p.b) + b * d.stride_b, d.ldb, p.beta,
                   static_cast<float*>(p.c) + b * d.stride_c, d.ldc, parallel.threads());
  }
}

// An empty problem (m, n or k 0) never reaches oneDNN: onednn_run settles it (run_trivial),
// and oneDNN 2.6 dies of SIGFPE creating a batched matmul with an empty dimension.
bool empty_problem(const xinhe_gemm_desc_t& d) { return d.m == 0 || d.n == 0 || d.k == 0; }

const char* onednn_gemm_unsupported_reason(const xinhe_gemm_desc_t& d) {
  if (const char* why = desc_unsupported_reason(d)) return why;
  if (empty_problem(d)) return onednn_unavailable_reason();
  return onednn_unsupported_reason(d);
}
uint64_t onednn_gemm_workspace_size(const xinhe_gemm_desc_t& d, int threads) {
  return empty_problem(d) ? 0 : onednn_workspace_size(d, threads);
}
void onednn_run(const GemmProblem& p, Parallel& parallel) {
  if (run_trivial(p)) return;
  // oneDNN refused at run time what it accepted at creation (never seen): compute it here.
  if (!onednn_gemm(p, parallel.threads())) run_direct(p, parallel);
}

void reference_run(const GemmProblem& p, Parallel&) {
  if (run_trivial(p)) return;
  direct_gemm(p, OutputRange{0, p.desc.batch * p.desc.m, 0, p.desc.n});
}

}  // namespace

uint64_t packed_gemm_workspace_size(const PackedKernels& kernels, const xinhe_gemm_desc_t& desc,
                                    int threads) {
  return packed_workspace_size(kernels, desc, threads);
}

void run_packed_gemm(const PackedKernels& kernels, const GemmProblem& problem, Parallel& parallel) {
  run_packed(kernels, problem, parallel);
}

const std::vector<GemmImpl>& gemm_impls() {
  // Never destroyed: a stream's worker thread may still run a queued op from this list while
  // the process exits and runs static destructors (a std::vector here was freed under it).
  static const std::vector<GemmImpl>& impls = *new std::vector<GemmImpl> {
#if defined(XINHE_GEMM_X86_64)
    {"packed", "amxbf16", &amx_bf16_unsupported_reason, &amx_bf16_workspace_size, &amx_bf16_run},
        {"packed", "amxfp16", &amx_fp16_unsupported_reason, &amx_fp16_workspace_size,
         &amx_fp16_run},
        {"packed", "avx512bf16", &avx512_bf16_unsupported_reason, &avx512_bf16_workspace_size,
         &avx512_bf16_run},
        {"packed", "avx512f", &avx512_unsupported_reason, &avx512_workspace_size, &avx512_run},
        {"packed", "avx2", &avx2_unsupported_reason, &avx2_workspace_size, &avx2_run},
#endif
        {"onednn", nullptr, &onednn_gemm_unsupported_reason, &onednn_gemm_workspace_size,
         &onednn_run},
        {"openblas", nullptr, &openblas_unsupported_reason, &no_workspace, &openblas_run},
        {"packed", "portable", &portable_unsupported_reason, &portable_workspace_size,
         &portable_run},
        {"reference", nullptr, &desc_unsupported_reason, &no_workspace, &reference_run},
  };
  return impls;
}

}  // namespace xinhe::kernels::cpu
