// The operator half of the host double (libopapi.so): the aclnn operators the Ascend plugin
// uses, each in two phases (validation, workspace size and executor; then the run on a stream),
// computed on the host in f32 and rounded once, to nearest even, to the output dtype. The
// documented operand rules each operator enforces are listed in acl_double.h.
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "acl_double.h"

namespace {

using namespace xinhe_acl_double;

size_t element_size(aclDataType dtype) {
  switch (dtype) {
    case ACL_FLOAT:
    case ACL_INT32:
      return 4;
    case ACL_FLOAT16:
    case ACL_BF16:
      return 2;
    case ACL_UINT8:
    case ACL_BOOL:
    case ACL_INT8:
      return 1;
    default:
      return 8;
  }
}
bool is_float(aclDataType d) { return d == ACL_FLOAT || d == ACL_FLOAT16 || d == ACL_BF16; }

float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(mant), -24);
  } else if (exp == 31) {
    v = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    v = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  }
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  bits |= sign;
  std::memcpy(&v, &bits, 4);
  return v;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // rounds to >= 65520: infinity
  if (abs < 0x38800000u) {                        // below 2^-14: subnormal half
    const float a = std::fabs(f) * 16777216.0f;   // in units of 2^-24, exact
    return sign | static_cast<uint16_t>(std::nearbyint(a));
  }
  const uint32_t mant = abs & 0x7fffffu;
  uint32_t h = ((abs >> 23) - 112) << 10 | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return sign | static_cast<uint16_t>(h);
}

float load(aclDataType d, const uint8_t* p) {
  switch (d) {
    case ACL_FLOAT: {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case ACL_FLOAT16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      return half_to_float(h);
    }
    case ACL_BF16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      const uint32_t bits = static_cast<uint32_t>(h) << 16;
      float v;
      std::memcpy(&v, &bits, 4);
      return v;
    }
    case ACL_UINT8:
    case ACL_BOOL:
      return *p;
    default:
      return std::numeric_limits<float>::quiet_NaN();
  }
}

void store(aclDataType d, uint8_t* p, float v) {
  switch (d) {
    case ACL_FLOAT:
      std::memcpy(p, &v, 4);
      break;
    case ACL_FLOAT16: {
      const uint16_t h = float_to_half(v);
      std::memcpy(p, &h, 2);
      break;
    }
    case ACL_BF16: {
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      uint16_t h;
      if ((bits & 0x7fffffffu) > 0x7f800000u) {
        h = static_cast<uint16_t>((bits >> 16) | 0x40u);
      } else {
        h = static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
      }
      std::memcpy(p, &h, 2);
      break;
    }
    default:
      *p = static_cast<uint8_t>(v);
      break;
  }
}

int64_t numel(const aclTensor& t) {
  int64_t n = 1;
  for (int64_t d : t.dims) n *= d;
  return n;
}

// A tensor resolved to host bytes at run time.
struct View {
  aclTensor t;
  uint8_t* base = nullptr;  // element 0 of the storage
  size_t esize = 0;
  uint8_t* at(int64_t element_offset) const {
    return base + static_cast<size_t>(t.offset + element_offset) * esize;
  }
  // Element offsets of the view in row-major order of its dims.
  std::vector<int64_t> offsets() const {
    std::vector<int64_t> out(static_cast<size_t>(numel(t)));
    std::vector<int64_t> idx(t.dims.size(), 0);
    for (size_t i = 0; i < out.size(); ++i) {
      int64_t o = 0;
      for (size_t d = 0; d < idx.size(); ++d) o += idx[d] * t.strides[d];
      out[i] = o;
      for (size_t d = idx.size(); d-- > 0;) {
        if (++idx[d] < t.dims[d]) break;
        idx[d] = 0;
      }
    }
    return out;
  }
};

std::string resolve(const aclTensor& t, View* v) {
  v->t = t;
  v->esize = element_size(t.dtype);
  int64_t storage = 1;
  for (int64_t d : t.storage) storage *= d;
  if (storage == 0 || numel(t) == 0) return "";
  std::string why;
  v->base = device_bytes(t.data, static_cast<size_t>(storage) * v->esize, &why);
  return v->base ? "" : "tensor storage: " + why;
}

// Phase one's common checks; returns the status and sets the recent error message.
aclnnStatus reject(const std::string& op, const std::string& why) {
  set_error(op + ": " + why);
  return ACLNN_ERR_PARAM_INVALID;
}

// Validates tensors for phase one: not null, no fp64; *placeholder when any has no data.
aclnnStatus check_tensors(const std::string& op, std::initializer_list<const aclTensor*> list,
                          bool* placeholder) {
  for (const aclTensor* t : list) {
    if (t == nullptr) {
      set_error(op + ": null tensor");
      return ACLNN_ERR_PARAM_NULLPTR;
    }
    if (t->dtype == ACL_DOUBLE) return reject(op, "fp64 is not supported");
    if (t->dtype == ACL_BF16 && !soc_is_a2_a3())
      return reject(op, "BFLOAT16 is supported on Atlas A2/A3 products only");
    if (t->data == nullptr && numel(*t) > 0) *placeholder = true;
  }
  return ACLNN_SUCCESS;
}

aclnnStatus finish(const char* op, uint64_t workspace, bool placeholder,
                   std::function<std::string()> body, uint64_t* workspace_size,
                   aclOpExecutor** executor) {
  if (!workspace_size || !executor) {
    set_error(std::string(op) + ": null workspaceSize or executor");
    return ACLNN_ERR_PARAM_NULLPTR;
  }
  *workspace_size = workspace;
  *executor = new_executor(op, workspace, placeholder, std::move(body));
  return ACLNN_SUCCESS;
}

// self = f(self, other) elementwise over equal shapes.
aclnnStatus elementwise(const char* op, const aclTensor* self, const aclTensor* other,
                        std::function<float(float, float)> f, uint64_t* ws, aclOpExecutor** ex,
                        bool bitwise_copy = false) {
  bool placeholder = false;
  const aclnnStatus st = other ? check_tensors(op, {self, other}, &placeholder)
                               : check_tensors(op, {self}, &placeholder);
  if (st != ACLNN_SUCCESS) return st;
  const bool same_bytes = bitwise_copy && other && other->dtype == self->dtype &&
                          (self->dtype == ACL_UINT8 || self->dtype == ACL_INT8);
  if (!same_bytes && (!is_float(self->dtype) || (other && !is_float(other->dtype))))
    return reject(op, "the double runs f32, f16 and bf16 (and int8/uint8 copies) only");
  if (other && other->dims != self->dims) return reject(op, "shapes differ");
  const aclTensor a = *self;
  const aclTensor b = other ? *other : aclTensor{};
  const bool has_other = other != nullptr;
  return finish(
      op, 0, placeholder,
      [a, b, has_other, f, bitwise_copy]() -> std::string {
        View va, vb;
        std::string why = resolve(a, &va);
        if (why.empty() && has_other) why = resolve(b, &vb);
        if (!why.empty()) return why;
        if (numel(a) == 0) return "";
        const std::vector<int64_t> oa = va.offsets();
        const std::vector<int64_t> ob = has_other ? vb.offsets() : std::vector<int64_t>();
        for (size_t i = 0; i < oa.size(); ++i) {
          if (bitwise_copy && a.dtype == b.dtype) {
            std::memmove(va.at(oa[i]), vb.at(ob[i]), va.esize);
            continue;
          }
          const float x = load(a.dtype, va.at(oa[i]));
          const float y = has_other ? load(b.dtype, vb.at(ob[i])) : 0.0f;
          store(a.dtype, va.at(oa[i]), f(x, y));
        }
        return "";
      },
      ws, ex);
}

float cube_round(float x, aclDataType dtype, int8_t cube) {
  if (dtype != ACL_FLOAT || cube == KEEP_DTYPE) return x;
  if (cube == USE_FP16) return half_to_float(float_to_half(x));
  uint32_t bits;  // HF32: 10 mantissa bits, to nearest
  std::memcpy(&bits, &x, 4);
  if ((bits & 0x7f800000u) != 0x7f800000u) bits = (bits + 0x1000u) & ~0x1fffu;
  std::memcpy(&x, &bits, 4);
  return x;
}

// out[b] = self[b] @ mat2[b]; batched when rank 3.
aclnnStatus matmul(const char* op, const aclTensor* self, const aclTensor* mat2, aclTensor* out,
                   int8_t cube, size_t rank, uint64_t* ws, aclOpExecutor** ex) {
  bool placeholder = false;
  const aclnnStatus st = check_tensors(op, {self, mat2, out}, &placeholder);
  if (st != ACLNN_SUCCESS) return st;
  // aclnnMatmul: rank 2 or 3 here (it documents up to 6 with broadcast); aclnnBatchMatMul: 3.
  const bool is_matmul = std::string(op) == "aclnnMatmul";
  if (is_matmul && (self->dims.size() == 3 || self->dims.size() == 2)) rank = self->dims.size();
  if (self->dims.size() != rank || mat2->dims.size() != rank || out->dims.size() != rank)
    return reject(op, "operands must have rank " + std::to_string(rank));
  if (!is_float(self->dtype) || self->dtype != mat2->dtype)
    return reject(op, "self and mat2 must share one of f32, f16, bf16");
  // The output has the inputs' dtype; aclnnMatmul alone also gives f32 for f16 inputs.
  const bool f16_to_f32 = is_matmul && self->dtype == ACL_FLOAT16 && out->dtype == ACL_FLOAT;
  if (out->dtype != self->dtype && !f16_to_f32)
    return reject(op, is_matmul ? "out must have the inputs' dtype (or f32 for f16 inputs)"
                                : "out must have the inputs' dtype");
  if (cube < KEEP_DTYPE || cube > USE_HF32) return reject(op, "unknown cubeMathType");
  if (self->dtype == ACL_FLOAT && cube == KEEP_DTYPE && !soc_is_a2_a3())
    return reject(op,
                  "cubeMathType KEEP_DTYPE with FLOAT inputs: the cube unit of Atlas training "
                  "and inference series products does not take FLOAT");
  const size_t r = rank - 2;
  const int64_t batch = rank == 3 ? self->dims[0] : 1;
  const int64_t m = self->dims[r], k = self->dims[r + 1], n = mat2->dims[r + 1];
  if (mat2->dims[r] != k || out->dims[r] != m || out->dims[r + 1] != n ||
      (rank == 3 && (mat2->dims[0] != batch || out->dims[0] != batch)))
    return reject(op, "shapes do not chain");
  const aclTensor a = *self, b = *mat2, c = *out;
  const aclDataType dtype = a.dtype, out_dtype = c.dtype;
  return finish(
      op, 4096 + static_cast<uint64_t>(m) * 64, placeholder,
      [=]() -> std::string {
        View va, vb, vc;
        std::string why = resolve(a, &va);
        if (why.empty()) why = resolve(b, &vb);
        if (why.empty()) why = resolve(c, &vc);
        if (!why.empty()) return why;
        const int64_t sa = rank == 3 ? a.strides[0] : 0, sb = rank == 3 ? b.strides[0] : 0,
                      sc = rank == 3 ? c.strides[0] : 0;
        std::vector<float> arow(static_cast<size_t>(k));
        for (int64_t bi = 0; bi < batch; ++bi)
          for (int64_t i = 0; i < m; ++i) {
            for (int64_t p = 0; p < k; ++p)
              arow[p] =
                  cube_round(load(dtype, va.at(bi * sa + i * a.strides[r] + p * a.strides[r + 1])),
                             dtype, cube);
            for (int64_t j = 0; j < n; ++j) {
              float acc = 0.0f;
              for (int64_t p = 0; p < k; ++p)
                acc += arow[p] *
                       cube_round(
                           load(dtype, vb.at(bi * sb + p * b.strides[r] + j * b.strides[r + 1])),
                           dtype, cube);
              store(out_dtype, vc.at(bi * sc + i * c.strides[r] + j * c.strides[r + 1]), acc);
            }
          }
        return "";
      },
      ws, ex);
}

}  // namespace

#define XD_RUN(name)                                                                 \
  extern "C" XINHE_ACL_DOUBLE_EXPORT aclnnStatus name(                               \
      void* workspace, uint64_t size, aclOpExecutor* executor, aclrtStream stream) { \
    return run_executor(#name, workspace, size, executor, stream);                   \
  }

extern "C" {

XINHE_ACL_DOUBLE_EXPORT aclnnStatus aclnnMatmulGetWorkspaceSize(const aclTensor* self,
                                                                const aclTensor* mat2,
                                                                aclTensor* out, int8_t cube,
                                                                uint64_t* ws, aclOpExecutor** ex) {
  return matmul("aclnnMatmul", self, mat2, out, cube, 2, ws, ex);
}

XINHE_ACL_DOUBLE_EXPORT aclnnStatus aclnnBatchMatMulGetWorkspaceSize(const aclTensor* self,
                                                                     const aclTensor* mat2,
                                                                     aclTensor* out, int8_t cube,
                                                                     uint64_t* ws,
                                                                     aclOpExecutor** ex) {
  return matmul("aclnnBatchMatMul", self, mat2, out, cube, 3, ws, ex);
}

XINHE_ACL_DOUBLE_EXPORT aclnnStatus aclnnInplaceCopyGetWorkspaceSize(aclTensor* self_ref,
                                                                     const aclTensor* src,
                                                                     uint64_t* ws,
                                                                     aclOpExecutor** ex) {
  return elementwise(
      "aclnnInplaceCopy", self_ref, src, [](float, float y) { return y; }, ws, ex, true);
}

XINHE_ACL_DOUBLE_EXPORT aclnnStatus aclnnInplaceMulsGetWorkspaceSize(const aclTensor* self_ref,
                                                                     const aclScalar* other,
                                                                     uint64_t* ws,
                                                                     aclOpExecutor** ex) {
  if (!other) return reject("aclnnInplaceMuls", "null scalar");
  const float s = static_cast<float>(other->value);
  return elementwise(
      "aclnnInplaceMuls", self_ref, nullptr, [s](float x, float) { return x * s; }, ws, ex);
}

XINHE_ACL_DOUBLE_EXPORT aclnnStatus aclnnInplaceAddGetWorkspaceSize(const aclTensor* self_ref,
                                                                    const aclTensor* other,
                                                                    const aclScalar* alpha,
                                                                    uint64_t* ws,
                                                                    aclOpExecutor** ex) {
  if (!alpha) return reject("aclnnInplaceAdd", "null alpha");
  const float s = static_cast<float>(alpha->value);
  return elementwise(
      "aclnnInplaceAdd", self_ref, other, [s](float x, float y) { return x + s * y; }, ws, ex);
}

XINHE_ACL_DOUBLE_EXPORT aclnnStatus aclnnInplaceLogGetWorkspaceSize(const aclTensor* self_ref,
                                                                    uint64_t* ws,
                                                                    aclOpExecutor** ex) {
  return elementwise(
      "aclnnInplaceLog", self_ref, nullptr, [](float x, float) { return std::log(x); }, ws, ex);
}

XINHE_ACL_DOUBLE_EXPORT aclnnStatus aclnnInplaceFillScalarGetWorkspaceSize(
    const aclTensor* self_ref, const aclScalar* value, uint64_t* ws, aclOpExecutor** ex) {
  if (!value) return reject("aclnnInplaceFillScalar", "null value");
  const float s = static_cast<float>(value->value);
  return elementwise(
      "aclnnInplaceFillScalar", self_ref, nullptr, [s](float, float) { return s; }, ws, ex);
}

XINHE_ACL_DOUBLE_EXPORT aclnnStatus aclnnFlashAttentionScoreGetWorkspaceSize(
    const aclTensor* query, const aclTensor* key, const aclTensor* value,
    const aclTensor* real_shift, const aclTensor* drop_mask, const aclTensor* padding_mask,
    const aclTensor* atten_mask, const aclIntArray* prefix, double scale_value, double keep_prob,
    int64_t pre_tokens, int64_t next_tokens, int64_t head_num, char* input_layout,
    int64_t inner_precise, int64_t sparse_mode, const aclTensor* softmax_max_out,
    const aclTensor* softmax_sum_out, const aclTensor* softmax_out_out,
    const aclTensor* attention_out_out, uint64_t* ws, aclOpExecutor** ex) {
  const char* op = "aclnnFlashAttentionScore";
  if (!soc_is_a2_a3()) return reject(op, "supported on Atlas A2/A3 products only, not on this SoC");
  (void)pre_tokens;
  (void)next_tokens;
  (void)inner_precise;
  (void)prefix;
  (void)softmax_out_out;
  bool placeholder = false;
  aclnnStatus st = check_tensors(
      op, {query, key, value, softmax_max_out, softmax_sum_out, attention_out_out}, &placeholder);
  if (st != ACLNN_SUCCESS) return st;
  if (real_shift || drop_mask || padding_mask)
    return reject(op, "the double supports no pse, dropout or padding mask");
  if (keep_prob != 1.0) return reject(op, "the double supports keepProb 1 only");
  if (!input_layout) return reject(op, "null inputLayout");
  const std::string layout = input_layout;
  if (layout != "BSH" && layout != "SBH" && layout != "BSND" && layout != "BNSD")
    return reject(op, "inputLayout must be BSH, SBH, BSND or BNSD, not " + layout);
  if (layout != "BNSD" && layout != "BSND")
    return reject(op, "the double runs the BNSD and BSND layouts only");
  const aclDataType dtype = query->dtype;
  if (!is_float(dtype) || key->dtype != dtype || value->dtype != dtype ||
      attention_out_out->dtype != dtype)
    return reject(op, "query, key, value and attentionOut must share f16, bf16 or f32");
  if (query->dims.size() != 4 || key->dims.size() != 4 || value->dims.size() != 4 ||
      attention_out_out->dims.size() != 4)
    return reject(op, layout + " tensors have rank 4");
  const bool bnsd = layout == "BNSD";
  // Index of N and S in the layout.
  const size_t in = bnsd ? 1 : 2, is = bnsd ? 2 : 1;
  const int64_t b = query->dims[0], nq = query->dims[in], sq = query->dims[is], d = query->dims[3];
  const int64_t nkv = key->dims[in], skv = key->dims[is];
  if (b < 1 || b > (int64_t{2} << 20)) return reject(op, "B must be in [1, 2M]");
  if (nq < 1 || nq > 256 || nkv < 1 || nq % nkv != 0)
    return reject(op, "N must be in [1, 256] with Nq a multiple of Nkv");
  if (sq < 1 || skv < 1 || sq > (int64_t{1} << 20) || skv > (int64_t{1} << 20))
    return reject(op, "S must be in [1, 1M]");
  if (d < 1 || d > 768) return reject(op, "D must be in [1, 768]");
  if (head_num != nq) return reject(op, "headNum must equal the query's N");
  if (key->dims != value->dims || key->dims[0] != b || key->dims[3] != d)
    return reject(op, "key and value must match and share B and D with query");
  if (attention_out_out->dims != query->dims) return reject(op, "attentionOut must match query");
  const std::vector<int64_t> stats = {b, nq, sq, 8};
  for (const aclTensor* s : {softmax_max_out, softmax_sum_out})
    if (s->dtype != ACL_FLOAT || s->dims != stats)
      return reject(op, "softmaxMax/Sum must be f32 [B, N, Sq, 8]");
  bool causal = false;
  if (sparse_mode == 3) {
    if (!atten_mask) return reject(op, "sparseMode 3 needs the 2048x2048 attenMask");
    if ((atten_mask->dtype != ACL_UINT8 && atten_mask->dtype != ACL_BOOL) ||
        atten_mask->dims != std::vector<int64_t>{2048, 2048})
      return reject(op, "sparseMode 3: attenMask must be bool/uint8 [2048, 2048]");
    if (atten_mask->data == nullptr) placeholder = true;
    causal = true;
  } else if (sparse_mode != 0 || atten_mask) {
    return reject(op, "the double supports sparseMode 0 without a mask and 3 with one");
  }
  const aclTensor q = *query, k = *key, v = *value, o = *attention_out_out, mx = *softmax_max_out,
                  sm = *softmax_sum_out;
  const aclTensor mask = causal ? *atten_mask : aclTensor{};
  const float scale = static_cast<float>(scale_value);
  const uint64_t workspace = 8192 + static_cast<uint64_t>(b * nq) * 256;
  return finish(
      op, workspace, placeholder,
      [=]() -> std::string {
        View vq, vk, vv, vo, vmx, vsm, vmask;
        for (auto [t, view] :
             {std::pair{&q, &vq}, {&k, &vk}, {&v, &vv}, {&o, &vo}, {&mx, &vmx}, {&sm, &vsm}}) {
          const std::string why = resolve(*t, view);
          if (!why.empty()) return why;
        }
        if (causal) {
          const std::string why = resolve(mask, &vmask);
          if (!why.empty()) return why;
          // The documented rightDownCausal mask: 1 above the diagonal (sampled rows).
          for (int64_t r = 0; r < 2048; r += 61)
            for (int64_t c = 0; c < 2048; ++c)
              if ((load(mask.dtype, vmask.at(r * mask.strides[0] + c * mask.strides[1])) != 0) !=
                  (c > r))
                return "attenMask is not the upper-triangular 2048x2048 mask sparseMode 3 needs";
        }
        auto qi = [&](const aclTensor& t, int64_t bi, int64_t n, int64_t s, int64_t di) {
          return bi * t.strides[0] + n * t.strides[in] + s * t.strides[is] + di * t.strides[3];
        };
        auto stat = [](const aclTensor& t, int64_t bi, int64_t n, int64_t s, int64_t e) {
          return bi * t.strides[0] + n * t.strides[1] + s * t.strides[2] + e * t.strides[3];
        };
        const int64_t group = nq / nkv;
        std::vector<float> scores(static_cast<size_t>(skv)), acc(static_cast<size_t>(d));
        for (int64_t bi = 0; bi < b; ++bi)
          for (int64_t n = 0; n < nq; ++n)
            for (int64_t i = 0; i < sq; ++i) {
              const int64_t last = causal ? i + skv - sq : skv - 1;  // keys 0..last
              // The row's largest scaled score, taken on the unscaled scores (the smallest
              // when scale < 0) so that a shift of every logit cancels before any rounding.
              float row_max = scale >= 0.0f ? -std::numeric_limits<float>::infinity()
                                            : std::numeric_limits<float>::infinity();
              for (int64_t j = 0; j <= last && j < skv; ++j) {
                float dot = 0.0f;
                for (int64_t e = 0; e < d; ++e)
                  dot += load(dtype, vq.at(qi(q, bi, n, i, e))) *
                         load(dtype, vk.at(qi(k, bi, n / group, j, e)));
                scores[j] = dot;
                row_max = scale >= 0.0f ? std::max(row_max, dot) : std::min(row_max, dot);
              }
              float sum = 0.0f;
              std::fill(acc.begin(), acc.end(), 0.0f);
              for (int64_t j = 0; j <= last && j < skv; ++j) {
                const float p = std::exp(scale * (scores[j] - row_max));
                sum += p;
                for (int64_t e = 0; e < d; ++e)
                  acc[e] += p * load(dtype, vv.at(qi(v, bi, n / group, j, e)));
              }
              // Rows that see no key (sparseMode 3 with Sq > Skv) are undefined here: NaN.
              for (int64_t e = 0; e < d; ++e)
                store(dtype, vo.at(qi(o, bi, n, i, e)),
                      last < 0 ? std::numeric_limits<float>::quiet_NaN() : acc[e] / sum);
              for (int64_t e = 0; e < 8; ++e) {
                store(ACL_FLOAT, vmx.at(stat(mx, bi, n, i, e)),
                      last < 0 ? -std::numeric_limits<float>::infinity() : scale * row_max);
                store(ACL_FLOAT, vsm.at(stat(sm, bi, n, i, e)), sum);
              }
            }
        return "";
      },
      ws, ex);
}

}  // extern "C"

XD_RUN(aclnnMatmul)
XD_RUN(aclnnBatchMatMul)
XD_RUN(aclnnInplaceCopy)
XD_RUN(aclnnInplaceMuls)
XD_RUN(aclnnInplaceAdd)
XD_RUN(aclnnInplaceLog)
XD_RUN(aclnnInplaceFillScalar)
XD_RUN(aclnnFlashAttentionScore)
