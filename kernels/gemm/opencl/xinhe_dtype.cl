// xinhe OpenCL C prelude shared by every kernel program: storage dtype codes (the values of
// xinhe_dtype_t), f32 <-> bf16 conversion (bf16 is kept as 16-bit words, so no extension is
// needed), and loaders/storers that widen to f32. f16 goes through vload_half/vstore_half,
// which are core OpenCL C and do not need cl_khr_fp16.
#define XH_F32 0
#define XH_F16 1
#define XH_BF16 2

#define XH_CAT_(a, b) a##b
#define XH_CAT(a, b) XH_CAT_(a, b)

inline float xh_bf16_to_f32(ushort h) { return as_float((uint)h << 16); }

// Round to nearest even; NaN stays a quiet NaN.
inline ushort xh_f32_to_bf16(float f) {
  uint u = as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (ushort)(u >> 16);
}

// XH_STORAGE(code) -> element type in memory.
#define XH_STORAGE_0 float
#define XH_STORAGE_1 half
#define XH_STORAGE_2 ushort
#define XH_STORAGE(code) XH_CAT(XH_STORAGE_, code)

// XH_LOAD(code, ptr, index) -> float
#define XH_LOAD_0(p, i) ((p)[i])
#define XH_LOAD_1(p, i) vload_half(0, (p) + (i))
#define XH_LOAD_2(p, i) xh_bf16_to_f32((p)[i])
#define XH_LOAD(code, p, i) XH_CAT(XH_LOAD_, code)(p, i)

// XH_STORE(code, ptr, index, float value)
#define XH_STORE_0(p, i, v) ((p)[i] = (v))
#define XH_STORE_1(p, i, v) vstore_half_rte((v), 0, (p) + (i))
#define XH_STORE_2(p, i, v) ((p)[i] = xh_f32_to_bf16(v))
#define XH_STORE(code, p, i, v) XH_CAT(XH_STORE_, code)(p, i, v)
