// Flash attention on the GEMM micro-kernels (see attention_tiles.h): planning, the per-task
// loop (stage and pack Q once; per key block pack K^T, S = Q K^T, online softmax, pack P and V,
// O = alpha O + P V), the final normalization, and the merge of key splits. Baseline ISA: all
// arithmetic happens in the kernels it calls through pointers.
#include "attention_tiles.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "checked_math.h"
#include "half.h"

namespace xinhe::kernels::cpu {
namespace {

constexpr int64_t kMaxRows = 192;  // query rows per task: heads of a group x positions
// Keys per block (a multiple of every kernel's nr and k_unit). 256 rather than 128: half the
// online-softmax steps and O rescales per key; on the Zen 4 VM f32 and bf16 prefill, causal and
// not, ran 3-10 % faster and single-query decode up to 2x (xinhe-bench, three runs each).
constexpr int64_t kBlockK = 256;
constexpr int64_t kMinSplitKeys = 256;  // a key split covers at least this many keys
// A task with at most this many f32 query rows (decode: one position of a GQA group) reads K and
// V in place instead of packing them. On the Zen 3 VM (AVX2, 6-row kernel), single-query decode
// with 8192 keys ran 1.6x faster in place at 8 rows, 1.3x at 16, and 0.87x at 32.
constexpr int64_t kFewRowsMax = 16;
// The same for bf16/f16 K and V, widened as they are read, so each row of the task widens them
// again. On the Zen 3 VM, in place against packed (4096-8192 keys, D 128, 1 and 2 threads):
// 1 row 2.0-4.2x, 4 rows 0.98-1.36x, 8 rows 1.02-1.28x, 16 rows 0.68-0.86x.
constexpr int64_t kFewRowsMax16 = 8;
// K and V are packed once for all tasks (rather than per task and block) when the packed
// copies of all of them fit in this much workspace: every query block of a head then reads the
// same packed tiles instead of packing (and fetching) its keys again.
constexpr int64_t kPrepackBudgetBytes = int64_t{256} << 20;
constexpr int64_t kAlign = 64;
constexpr float kLog2e = 1.44269504088896340736f;

// ceil(a / b) for a >= 0, b > 0, without the (a + b - 1) that wraps near 2^63.
int64_t ceil_div(int64_t a, int64_t b) { return a / b + (a % b != 0 ? 1 : 0); }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }
int64_t dtype_bytes(xinhe_dtype_t t) { return t == XINHE_DTYPE_F32 ? 4 : 2; }

struct Plan {
  int64_t group, heads_per_task, head_chunks, bq, q_blocks, rows, rows_pad;
  int64_t dk_pad;   // K of S = Q K^T: head_dim padded to the kernel's k_unit
  int64_t kb_pad;   // K of O += P V: a key block padded to k_unit
  int64_t dim_pad;  // N of O += P V: head_dim padded to nr
  int64_t base_tasks, splits;
  bool tasks_fit;  // false: B x Hkv x head chunks x query blocks does not fit in int64
  int64_t in_bytes, pk_bytes;
  bool causal, negate_q;
  int64_t causal_offset;  // Skv - Sq
  float c;                // |scale| * log2(e)
  float scale_abs;
  // Byte offsets inside a thread's slot.
  int64_t q_stage, q_f32, q_pack, kv_stage, k_pack, v_pack, s, p16, p_pack, o, m, l, alpha, vis;
  int64_t slot_bytes;
  int64_t partial_floats;  // per (task, split): rows x (dim + 2)
  // Packed K and V of every (batch, kv head, key block), when prepacked (else 0).
  int64_t kv_blocks;  // key blocks per head
  int64_t k_block_bytes, v_block_bytes;
  int64_t prepack_bytes;
};

Plan make_plan(const PackedKernels& g, const xinhe_attention_desc_t& d, int threads) {
  Plan p{};
  const int64_t D = d.head_dim;
  p.group = d.heads_kv > 0 ? d.heads_q / d.heads_kv : 1;
  p.heads_per_task = std::max<int64_t>(1, std::min(p.group, kMaxRows));
  p.head_chunks = ceil_div(p.group, p.heads_per_task);
  p.bq = std::max<int64_t>(1, std::min(kMaxRows / p.heads_per_task, std::max<int64_t>(d.seq_q, 1)));
  p.q_blocks = ceil_div(d.seq_q, p.bq);
  p.rows = p.heads_per_task * p.bq;
  p.rows_pad = round_up(p.rows, g.mr);
  p.dk_pad = round_up(std::max<int64_t>(D, 1), g.k_unit);
  p.kb_pad = round_up(kBlockK, g.k_unit);
  p.dim_pad = round_up(std::max<int64_t>(D, 1), g.nr);
  // The sizes are validated one by one, not as a product: a batch broadcast with stride 0 may
  // be near 2^63, and with Hq = 0 (nothing to compute) so may B x Hkv.
  using xinhe::util::CheckedSize;
  const CheckedSize tasks = p.head_chunks == 0 || p.q_blocks == 0
                                ? CheckedSize(0)
                                : CheckedSize::of(d.batch) * CheckedSize::of(d.heads_kv) *
                                      CheckedSize::of(p.head_chunks) * CheckedSize::of(p.q_blocks);
  p.tasks_fit = tasks.ok() && tasks.value() <= static_cast<uint64_t>(INT64_MAX);
  p.base_tasks = p.tasks_fit ? static_cast<int64_t>(tasks.value()) : 0;
  p.splits = 1;
  if (threads > 1 && p.base_tasks > 0 && p.base_tasks < 2 * threads &&
      d.seq_kv >= 2 * kMinSplitKeys) {
    p.splits = std::min(ceil_div(2 * threads, p.base_tasks), d.seq_kv / kMinSplitKeys);
  }
  p.in_bytes = dtype_bytes(d.dtype);
  p.pk_bytes = g.packed_bytes;
  p.causal = d.mask == XINHE_ATTENTION_MASK_CAUSAL;
  p.causal_offset = d.seq_kv - d.seq_q;
  p.negate_q = d.scale < 0.0f;
  p.scale_abs = std::fabs(d.scale);
  // Above 2.36e38 |scale| log2(e) overflows to inf, and (s - max) * inf is NaN where s == max.
  // FLT_MAX instead: distinct f32 scores differ by more than 1e-38 there, so the softmax is
  // one-hot either way.
  p.c = std::min(p.scale_abs * kLog2e, std::numeric_limits<float>::max());

  int64_t at = 0;
  auto take = [&at](int64_t bytes) {
    const int64_t off = at;
    at += round_up(std::max<int64_t>(bytes, 1), kAlign);
    return off;
  };
  p.q_stage = take(p.rows * D * p.in_bytes);
  // A few-rows task's 16-bit Q rows, widened once. Sized for kFewRowsMax16 rows even when the
  // plan's tasks have more: the last query block or head chunk may have few.
  p.q_f32 = take(d.dtype != XINHE_DTYPE_F32 ? std::min(p.rows, kFewRowsMax16) * D * 4 : 0);
  p.q_pack = take(p.rows_pad * p.dk_pad * p.pk_bytes);
  p.kv_stage = take(kBlockK * D * p.in_bytes);
  p.k_pack = take(kBlockK * p.dk_pad * p.pk_bytes);
  p.v_pack = take(p.dim_pad * p.kb_pad * p.pk_bytes);
  p.s = take(p.rows_pad * kBlockK * 4);
  p.p16 = take(p.pk_bytes == 2 ? p.rows_pad * kBlockK * 2 : 0);
  p.p_pack = take(p.rows_pad * p.kb_pad * p.pk_bytes);
  p.o = take(p.rows_pad * p.dim_pad * 4);
  p.m = take(p.rows_pad * 4);
  p.l = take(p.rows_pad * 4);
  p.alpha = take(p.rows_pad * 4);
  p.vis = take(p.rows_pad * 8);
  p.slot_bytes = at;
  p.partial_floats = p.rows * (D + 2);
  p.kv_blocks = ceil_div(d.seq_kv, kBlockK);
  p.k_block_bytes = round_up(kBlockK * p.dk_pad * p.pk_bytes, kAlign);
  p.v_block_bytes = round_up(p.dim_pad * p.kb_pad * p.pk_bytes, kAlign);
  const double prepack = static_cast<double>(d.batch) * static_cast<double>(d.heads_kv) *
                         static_cast<double>(p.kv_blocks) *
                         static_cast<double>(p.k_block_bytes + p.v_block_bytes);
  // Worth it only when several query blocks (or head chunks) read the same keys.
  const bool shared = p.q_blocks * p.head_chunks > 1;
  p.prepack_bytes = shared && prepack <= static_cast<double>(kPrepackBudgetBytes)
                        ? static_cast<int64_t>(prepack)
                        : 0;
  return p;
}

// The rows of one task: heads [h0, h0 + heads) of kv head hk, positions [q0, q0 + bq).
struct Task {
  int64_t b, hk, h0, heads, q0, bq, rows;
  int64_t kv_end;  // keys the task's last row can see
};

Task task_of(const Plan& p, const xinhe_attention_desc_t& d, int64_t t) {
  const int64_t per_block = d.batch * d.heads_kv * p.head_chunks;
  const int64_t q_block = p.q_blocks - 1 - t / per_block;  // heaviest (last) blocks first
  const int64_t rest = t % per_block;
  Task task;
  task.b = rest / (d.heads_kv * p.head_chunks);
  task.hk = (rest / p.head_chunks) % d.heads_kv;
  const int64_t chunk = rest % p.head_chunks;
  task.h0 = task.hk * p.group + chunk * p.heads_per_task;
  task.heads = std::min(p.heads_per_task, p.group - chunk * p.heads_per_task);
  task.q0 = q_block * p.bq;
  task.bq = std::min(p.bq, d.seq_q - task.q0);
  task.rows = task.heads * task.bq;
  task.kv_end = d.seq_kv;
  if (p.causal) task.kv_end = std::clamp<int64_t>(task.q0 + task.bq + p.causal_offset, 0, d.seq_kv);
  return task;
}

// Copies n elements of eb bytes, src element stride `stride`, to contiguous dst.
void gather(const char* src, int64_t stride, int64_t n, int64_t eb, char* dst) {
  if (stride == 1) {
    std::memcpy(dst, src, static_cast<size_t>(n * eb));
    return;
  }
  for (int64_t x = 0; x < n; ++x)
    std::memcpy(dst + x * eb, src + x * stride * eb, static_cast<size_t>(eb));
}

void negate(char* data, int64_t n, int64_t eb) {
  for (int64_t x = 0; x < n; ++x) data[x * eb + eb - 1] ^= static_cast<char>(0x80);  // sign bit
}

void store_out(xinhe_dtype_t dtype, void* base, int64_t index, float v) {
  switch (dtype) {
    case XINHE_DTYPE_F16:
      static_cast<uint16_t*>(base)[index] = f32_to_f16(v);
      break;
    case XINHE_DTYPE_BF16:
      static_cast<uint16_t*>(base)[index] = f32_to_bf16(v);
      break;
    default:
      static_cast<float*>(base)[index] = v;
      break;
  }
}

class TileAttention {
 public:
  TileAttention(const TileAttentionKernels& k, const AttentionProblem& problem, int threads)
      : g_(*k.gemm),
        sm_(*k.softmax),
        pr_(problem),
        d_(problem.desc),
        p_(make_plan(g_, d_, threads)) {
    const auto raw = reinterpret_cast<uintptr_t>(problem.workspace);
    base_ = reinterpret_cast<char*>((raw + kAlign - 1) / kAlign * kAlign);
    prepacked_ = base_ + threads * p_.slot_bytes;
    partials_ = reinterpret_cast<float*>(prepacked_ + p_.prepack_bytes);
  }

  void run(Parallel& parallel) {
    const int64_t items = p_.base_tasks * p_.splits;
    if (items == 0) return;
    const int slots = std::max(1, parallel.threads());
    if (p_.prepack_bytes > 0) {
      const int64_t blocks = d_.batch * d_.heads_kv * p_.kv_blocks;
      std::atomic<int64_t> next_block{0};
      parallel.parallel_for(slots, [&](int64_t slot) {
        char* ws = base_ + slot * p_.slot_bytes;
        for (;;) {
          const int64_t i = next_block.fetch_add(1, std::memory_order_relaxed);
          if (i >= blocks) return;
          const int64_t kb = i % p_.kv_blocks, bh = i / p_.kv_blocks;
          const int64_t k0 = kb * kBlockK;
          pack_kv(ws, bh / d_.heads_kv, bh % d_.heads_kv, k0, std::min(kBlockK, d_.seq_kv - k0),
                  prepacked_k(bh, kb), prepacked_v(bh, kb));
        }
      });
    }
    std::atomic<int64_t> next{0};
    parallel.parallel_for(slots, [&](int64_t slot) {
      char* ws = base_ + slot * p_.slot_bytes;
      for (;;) {
        const int64_t w = next.fetch_add(1, std::memory_order_relaxed);
        if (w >= items) return;
        process(ws, w / p_.splits, w % p_.splits);
      }
    });
    if (p_.splits == 1) return;
    std::atomic<int64_t> next_merge{0};
    parallel.parallel_for(slots, [&](int64_t) {
      for (;;) {
        const int64_t t = next_merge.fetch_add(1, std::memory_order_relaxed);
        if (t >= p_.base_tasks) return;
        merge(t);
      }
    });
  }

 private:
  template <typename T>
  T* at(char* ws, int64_t off) const {
    return reinterpret_cast<T*>(ws + off);
  }

  char* prepacked_k(int64_t bh, int64_t kb) const {
    return prepacked_ + (bh * p_.kv_blocks + kb) * (p_.k_block_bytes + p_.v_block_bytes);
  }
  char* prepacked_v(int64_t bh, int64_t kb) const { return prepacked_k(bh, kb) + p_.k_block_bytes; }

  // Packs keys [k0, k0 + cols) of (b, hk): K^T as the B operand of S = Q K^T (op(B) (D, cols)
  // is K's rows, stored (cols, D)) and V as the B operand of O += P V (op(B) (cols, D) is V's
  // rows). Rows with a d stride other than 1 go through the slot's staging buffer.
  void pack_kv(char* ws, int64_t b, int64_t hk, int64_t k0, int64_t cols, char* k_pack,
               char* v_pack) const {
    const int64_t D = d_.head_dim, eb = p_.in_bytes;
    const xinhe_dtype_t dt = d_.dtype;
    char* kv_stage = at<char>(ws, p_.kv_stage);
    const int64_t* ks = d_.k_strides;
    const int64_t* vs = d_.v_strides;
    const char* k_rows =
        static_cast<const char*>(pr_.k) + (b * ks[0] + hk * ks[1] + k0 * ks[2]) * eb;
    int64_t k_ld = ks[2];
    if (ks[3] != 1) {
      for (int64_t j = 0; j < cols; ++j)
        gather(k_rows + j * ks[2] * eb, ks[3], D, eb, kv_stage + j * D * eb);
      k_rows = kv_stage;
      k_ld = D;
    }
    g_.pack_b[dt](k_rows, k_ld, true, D, cols, k_pack);
    const char* v_rows =
        static_cast<const char*>(pr_.v) + (b * vs[0] + hk * vs[1] + k0 * vs[2]) * eb;
    int64_t v_ld = vs[2];
    if (vs[3] != 1) {
      for (int64_t j = 0; j < cols; ++j)
        gather(v_rows + j * vs[2] * eb, vs[3], D, eb, kv_stage + j * D * eb);
      v_rows = kv_stage;
      v_ld = D;
    }
    g_.pack_b[dt](v_rows, v_ld, false, cols, D, v_pack);
  }

  void process(char* ws, int64_t t, int64_t split) {
    const Task task = task_of(p_, d_, t);
    const int64_t D = d_.head_dim;
    const int mr = g_.mr, nr = g_.nr;
    const int64_t rows_used = round_up(task.rows, mr);
    const int64_t strips = rows_used / mr;
    float* m = at<float>(ws, p_.m);
    float* l = at<float>(ws, p_.l);
    float* alpha = at<float>(ws, p_.alpha);
    int64_t* vis = at<int64_t>(ws, p_.vis);
    float* o = at<float>(ws, p_.o);
    float* s = at<float>(ws, p_.s);
    for (int64_t r = 0; r < rows_used; ++r) {
      m[r] = -std::numeric_limits<float>::infinity();
      l[r] = 0.0f;
    }
    std::memset(o, 0, static_cast<size_t>(rows_used * p_.dim_pad * 4));

    // This split's keys: a contiguous range of the task's key blocks.
    const int64_t blocks = ceil_div(task.kv_end, kBlockK);
    const int64_t k_begin = blocks * split / p_.splits * kBlockK;
    const int64_t k_end = std::min(task.kv_end, blocks * (split + 1) / p_.splits * kBlockK);

    if (k_begin < k_end) {
      // Q rows, staged contiguous (heads of the group one after another), then packed once.
      char* q_stage = at<char>(ws, p_.q_stage);
      const int64_t eb = p_.in_bytes;
      const int64_t* qs = d_.q_strides;
      for (int64_t r = 0; r < task.rows; ++r) {
        const int64_t h = task.h0 + r / task.bq, i = task.q0 + r % task.bq;
        gather(static_cast<const char*>(pr_.q) + (task.b * qs[0] + h * qs[1] + i * qs[2]) * eb,
               qs[3], D, eb, q_stage + r * D * eb);
      }
      if (p_.negate_q) negate(q_stage, task.rows * D, eb);
      if (few_rows(task)) {
        const float* q_rows = reinterpret_cast<const float*>(q_stage);
        if (d_.dtype != XINHE_DTYPE_F32) {
          float* widened = at<float>(ws, p_.q_f32);
          const auto* bits = reinterpret_cast<const uint16_t*>(q_stage);
          for (int64_t x = 0; x < task.rows * D; ++x) {
            widened[x] = d_.dtype == XINHE_DTYPE_BF16 ? bf16_to_f32(bits[x]) : f16_to_f32(bits[x]);
          }
          q_rows = widened;
        }
        for (int64_t k0 = k_begin; k0 < k_end; k0 += kBlockK) {
          block_few_rows(task, k0, std::min(kBlockK, k_end - k0), q_rows, s, o, m, l, alpha, vis);
        }
        finish(task, t, split, m, l, o);
        return;
      }
      char* q_pack = at<char>(ws, p_.q_pack);
      g_.pack_a[d_.dtype](q_stage, D, false, task.rows, D, q_pack);
      if (g_.enter != nullptr) g_.enter();
      for (int64_t k0 = k_begin; k0 < k_end; k0 += kBlockK) {
        block(ws, task, k0, std::min(kBlockK, k_end - k0), strips, q_pack, s, o, m, l, alpha, vis,
              mr, nr);
      }
      if (g_.leave != nullptr) g_.leave();
    }
    finish(task, t, split, m, l, o);
  }

  // A task's rows done: written out, or kept as this split's partial for the merge.
  void finish(const Task& task, int64_t t, int64_t split, const float* m, const float* l,
              const float* o) {
    const int64_t D = d_.head_dim;
    if (p_.splits == 1) {
      finalize(task, m, l, o);
      return;
    }
    float* part = partials_ + (t * p_.splits + split) * p_.partial_floats;
    for (int64_t r = 0; r < task.rows; ++r) {
      float* row = part + r * (D + 2);
      row[0] = m[r];
      row[1] = l[r];
      std::memcpy(row + 2, o + r * p_.dim_pad, static_cast<size_t>(D * 4));
    }
  }

  // Decode-shaped tasks (at most kFewRowsMax f32 or kFewRowsMax16 16-bit query rows) multiply
  // K and V where they lie: packing them would move more bytes than the product reads.
  // Prepacked blocks (shared by several tasks) and K or V with a head-dim stride other than 1
  // take the packed path.
  bool few_rows(const Task& task) const {
    const int64_t most = d_.dtype == XINHE_DTYPE_F32 ? kFewRowsMax : kFewRowsMax16;
    return task.rows <= most && p_.prepack_bytes == 0 && d_.k_strides[3] == 1 &&
           d_.v_strides[3] == 1 && sm_.scores_rows != nullptr && sm_.accumulate_rows != nullptr;
  }

  // One key block [k0, k0 + cols) of a few-rows task; q is its f32 rows (dim apart).
  void block_few_rows(const Task& task, int64_t k0, int64_t cols, const float* q, float* s,
                      float* o, float* m, float* l, float* alpha, int64_t* vis) const {
    const int64_t D = d_.head_dim;
    int64_t seen = 0;  // keys the last-seeing row sees
    for (int64_t r = 0; r < task.rows; ++r) {
      const int64_t i = task.q0 + r % task.bq;
      vis[r] = p_.causal ? std::clamp<int64_t>(i + p_.causal_offset + 1 - k0, 0, cols) : cols;
      seen = std::max(seen, vis[r]);
    }
    const int64_t* ks = d_.k_strides;
    const int64_t* vs = d_.v_strides;
    const int64_t eb = p_.in_bytes;
    const char* k =
        static_cast<const char*>(pr_.k) + (task.b * ks[0] + task.hk * ks[1] + k0 * ks[2]) * eb;
    const char* v =
        static_cast<const char*>(pr_.v) + (task.b * vs[0] + task.hk * vs[1] + k0 * vs[2]) * eb;
    sm_.scores_rows(task.rows, D, q, k, d_.dtype, ks[2], seen, s, kBlockK);
    sm_.block(s, kBlockK, task.rows, vis, round_up(cols, 16), p_.c, m, l, alpha, nullptr, 0);
    sm_.rescale(o, p_.dim_pad, task.rows, D, alpha);
    if (seen > 0) {
      sm_.accumulate_rows(task.rows, seen, s, kBlockK, v, d_.dtype, vs[2], D, o, p_.dim_pad);
    }
  }

  // One key block [k0, k0 + cols) of a task.
  void block(char* ws, const Task& task, int64_t k0, int64_t cols, int64_t strips,
             const char* q_pack, float* s, float* o, float* m, float* l, float* alpha, int64_t* vis,
             int mr, int nr) {
    const int64_t D = d_.head_dim, pb = p_.pk_bytes;
    const int64_t rows_used = strips * mr;
    const xinhe_dtype_t dt = d_.dtype;
    char* k_pack = at<char>(ws, p_.k_pack);
    char* v_pack = at<char>(ws, p_.v_pack);
    // V's strips hold kcp keys each: those of the block as packed. A prepacked block holds all
    // its keys even when this task sees fewer (its causal end); the task reads a prefix.
    int64_t v_kcp = round_up(cols, g_.k_unit);
    if (p_.prepack_bytes > 0) {
      const int64_t bh = task.b * d_.heads_kv + task.hk;
      k_pack = prepacked_k(bh, k0 / kBlockK);
      v_pack = prepacked_v(bh, k0 / kBlockK);
      v_kcp = round_up(std::min(kBlockK, d_.seq_kv - k0), g_.k_unit);
    } else {
      pack_kv(ws, task.b, task.hk, k0, cols, k_pack, v_pack);
    }
    // Causal: row r (position i) sees keys j <= i + (Skv - Sq), a prefix of this block. A
    // strip of rows needs only the keys its last-seeing row sees: micro-tiles past them (the
    // masked corner of a diagonal block) are skipped in both products.
    int64_t strip_vis[kMaxRows];
    for (int64_t sr = 0; sr < strips; ++sr) strip_vis[sr] = 0;
    for (int64_t r = 0; r < rows_used; ++r) {
      int64_t v = 0;
      if (r < task.rows) {
        const int64_t i = task.q0 + r % task.bq;
        v = p_.causal ? std::clamp<int64_t>(i + p_.causal_offset + 1 - k0, 0, cols) : cols;
      }
      vis[r] = v;
      strip_vis[r / mr] = std::max(strip_vis[r / mr], v);
    }
    // A strip with fewer than mr rows of the task (decode: one query row, or a small GQA group)
    // multiplies only those rows where the kernel can (edge_rows); the rest of S and O is not
    // touched (vis 0: the softmax zeroes P there without reading S).
    auto strip_product = [&](int64_t sr, int64_t kc, const char* a, const char* b, float* c,
                             int64_t ldc, float beta) {
      const int64_t rows = std::min<int64_t>(mr, task.rows - sr * mr);
      if (rows < mr && g_.edge_rows != nullptr) {
        g_.edge_rows(static_cast<int>(rows), kc, a, b, c, ldc, 1.0f, beta);
      } else {
        g_.micro_kernel(kc, a, b, c, ldc, 1.0f, beta);
      }
    };
    for (int64_t sr = 0; sr < strips; ++sr) {
      const int64_t k_strips = ceil_div(strip_vis[sr], nr);
      for (int64_t q = 0; q < k_strips; ++q) {
        strip_product(sr, D, q_pack + sr * mr * p_.dk_pad * pb, k_pack + q * nr * p_.dk_pad * pb,
                      s + sr * mr * kBlockK + q * nr, kBlockK, 0.0f);
      }
    }
    uint16_t* p16 = pb == 2 ? at<uint16_t>(ws, p_.p16) : nullptr;
    sm_.block(s, kBlockK, rows_used, vis, round_up(cols, 16), p_.c, m, l, alpha, p16, dt);
    sm_.rescale(o, p_.dim_pad, rows_used, p_.dim_pad, alpha);

    // P as the A operand and V as the B operand of O += P V: op(B) (cols, D) is V's rows.
    // f32 P is read where the softmax left it (rows kBlockK floats apart, 1 KiB: no L1 set
    // conflicts) by the kernels that can; only a strip of fewer than mr rows is packed.
    const bool p_in_place = pb == 4 && g_.micro_kernel_a_rows != nullptr;
    const int64_t full_strips = std::min(strips, task.rows / mr);
    const int64_t packed_from = p_in_place ? full_strips : 0;  // first packed strip
    char* p_pack = at<char>(ws, p_.p_pack);
    if (packed_from < strips) {
      const int64_t r0 = packed_from * mr;
      if (pb == 2) {
        g_.pack_a[dt](p16 + r0 * kBlockK, kBlockK, false, rows_used - r0, cols, p_pack);
      } else {
        g_.pack_a[XINHE_DTYPE_F32](s + r0 * kBlockK, kBlockK, false, rows_used - r0, cols, p_pack);
      }
    }
    const int64_t kcp = round_up(cols, g_.k_unit);
    const int64_t d_strips = ceil_div(D, nr);
    for (int64_t sr = 0; sr < strips; ++sr) {
      if (strip_vis[sr] == 0) continue;  // P is 0: O keeps its (rescaled) value
      for (int64_t q = 0; q < d_strips; ++q) {
        const char* v_strip = v_pack + q * nr * v_kcp * pb;
        float* o_tile = o + sr * mr * p_.dim_pad + q * nr;
        if (sr < packed_from) {
          g_.micro_kernel_a_rows(strip_vis[sr], s + sr * mr * kBlockK, kBlockK, v_strip, o_tile,
                                 p_.dim_pad, 1.0f, 1.0f);
        } else {
          strip_product(sr, strip_vis[sr], p_pack + (sr - packed_from) * mr * kcp * pb, v_strip,
                        o_tile, p_.dim_pad, 1.0f);
        }
      }
    }
  }

  // O = o / l and LSE = m * scale + ln l per row; a row that saw no key: O = 0, LSE = -inf.
  void write_row(const Task& task, int64_t r, float m, float l, const float* o_row) const {
    const int64_t h = task.h0 + r / task.bq, i = task.q0 + r % task.bq;
    const int64_t* os = d_.o_strides;
    const int64_t base = task.b * os[0] + h * os[1] + i * os[2];
    // Whether the row saw keys comes from the mask, not from l: a NaN score (NaN or Inf in Q
    // or a seen K row) leaves l NaN, or 0 where the max skipped it, and must give NaN, as the
    // reference does, not the zeros of a row that saw nothing.
    const bool saw_keys = d_.seq_kv > 0 && (!p_.causal || i + p_.causal_offset >= 0);
    const RowResult out = row_result(saw_keys, m * p_.scale_abs, l);
    // Not o_row * 0: a V row the masked scores weighted 0 may hold Inf or NaN (0 * Inf = NaN).
    for (int64_t x = 0; x < d_.head_dim; ++x)
      store_out(d_.dtype, pr_.o, base + x * os[3], out.use_o ? o_row[x] * out.inv_l : out.fill);
    if (pr_.lse != nullptr) {
      const int64_t* ls = d_.lse_strides;
      pr_.lse[task.b * ls[0] + h * ls[1] + i * ls[2]] = out.lse;
    }
  }

  void finalize(const Task& task, const float* m, const float* l, const float* o) const {
    for (int64_t r = 0; r < task.rows; ++r) write_row(task, r, m[r], l[r], o + r * p_.dim_pad);
  }

  // Combines the splits of task t: each holds O, max and sum over its own keys.
  void merge(int64_t t) const {
    const Task task = task_of(p_, d_, t);
    const int64_t D = d_.head_dim;
    const float neg_inf = -std::numeric_limits<float>::infinity();
    std::vector<float> o_row(static_cast<size_t>(D));
    for (int64_t r = 0; r < task.rows; ++r) {
      float m_all = neg_inf;
      for (int64_t s = 0; s < p_.splits; ++s) {
        m_all = std::max(m_all, partials_[(t * p_.splits + s) * p_.partial_floats + r * (D + 2)]);
      }
      std::fill(o_row.begin(), o_row.end(), 0.0f);
      float l_all = 0.0f;
      if (m_all != neg_inf) {
        for (int64_t s = 0; s < p_.splits; ++s) {
          const float* part = partials_ + (t * p_.splits + s) * p_.partial_floats + r * (D + 2);
          // This split's keys were all masked for the row (l = 0); a NaN l (a NaN score among
          // them, max still -inf) gets weight 0 and makes l_all NaN, as it must.
          if (part[0] == neg_inf && part[1] == 0.0f) continue;
          const float w = std::exp2((part[0] - m_all) * p_.c);
          l_all += w * part[1];
          for (int64_t x = 0; x < D; ++x) o_row[x] += w * part[2 + x];
        }
      }
      write_row(task, r, m_all, l_all, o_row.data());
    }
  }

  const PackedKernels& g_;
  const SoftmaxKernels& sm_;
  const AttentionProblem& pr_;
  const xinhe_attention_desc_t& d_;
  const Plan p_;
  char* base_;
  char* prepacked_;
  float* partials_;
};

}  // namespace

uint64_t tile_attention_workspace_size(const TileAttentionKernels& kernels,
                                       const xinhe_attention_desc_t& desc, int threads) {
  threads = std::max(threads, 1);
  const Plan p = make_plan(*kernels.gemm, desc, threads);
  if (!p.tasks_fit) return xinhe::util::kSizeOverflow;
  using xinhe::util::CheckedSize;
  CheckedSize bytes = CheckedSize(kAlign) +
                      CheckedSize(static_cast<uint64_t>(threads)) * CheckedSize::of(p.slot_bytes) +
                      CheckedSize::of(p.prepack_bytes);
  if (p.splits > 1) {
    bytes = bytes + CheckedSize::of(p.base_tasks) * CheckedSize::of(p.splits) *
                        CheckedSize::of(p.partial_floats) * 4u;
  }
  return bytes.value_or(xinhe::util::kSizeOverflow);
}

void run_tile_attention(const TileAttentionKernels& kernels, const AttentionProblem& problem,
                        Parallel& parallel) {
  const xinhe_attention_desc_t& d = problem.desc;
  if (d.batch == 0 || d.heads_q == 0 || d.seq_q == 0) return;
  TileAttention(kernels, problem, std::max(1, parallel.threads())).run(parallel);
}

}  // namespace xinhe::kernels::cpu
