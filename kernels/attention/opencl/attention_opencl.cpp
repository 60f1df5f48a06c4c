// The OpenCL C attention kernels' host contract (attention_opencl.h).
#include "attention_opencl.h"

#include <sstream>

namespace xinhe::opencl_c {
namespace {

bool is_pow2(int v) { return v > 0 && (v & (v - 1)) == 0; }
size_t round_up(size_t v, size_t multiple) { return (v + multiple - 1) / multiple * multiple; }

}  // namespace

uint64_t FlashTile::private_bytes_per_work_item() const {
  // q and acc [QWI][D], scores [QWI][BKV], row statistics (attention_flash.cl).
  const uint64_t rows = static_cast<uint64_t>(qwi);
  return (rows * (2u * kMaxAttentionHeadDim + static_cast<uint64_t>(bkv)) + 4u * rows) *
         sizeof(float);
}

std::string FlashTile::validate(const KernelLimits& limits) const {
  if (qwi < 1 || qwi > 8) return "QWI not in [1, 8]";
  if (bkv < 1 || bkv > 64) return "BKV not in [1, 64]";
  if (dv != 1 && dv != 4 && dv != 8) return "DV not in {1, 4, 8}";
  if (wg < 1 || !is_pow2(wg)) return "WG not a power of two";
  if (std::string why = check_work_group(static_cast<uint64_t>(wg), 1, limits); !why.empty())
    return why;
  return check_private_memory(private_bytes_per_work_item(), static_cast<uint64_t>(wg), limits);
}

std::string FlashTile::to_string() const {
  std::ostringstream os;
  os << "QWI=" << qwi << ",BKV=" << bkv << ",WG=" << wg << ",DV=" << dv;
  return os.str();
}

FlashTile default_flash_tile(bool cpu_like) {
  FlashTile p;
  if (!cpu_like) {
    p.qwi = 1;
    p.bkv = 16;
    p.wg = 64;
    p.dv = 4;
  }
  return p;
}

FlashLayout flash_layout(const xinhe_attention_desc_t& d, const FlashTile& p) {
  FlashLayout layout;
  layout.contiguous_d =
      d.q_strides[3] == 1 && d.k_strides[3] == 1 && d.v_strides[3] == 1 && d.o_strides[3] == 1;
  int dv = layout.contiguous_d ? p.dv : 1;
  while (dv > 1 && d.head_dim % dv != 0) dv = dv == 8 ? 4 : 1;
  layout.dv = dv;
  return layout;
}

std::string attention_options(const xinhe_attention_desc_t& d) {
  std::ostringstream os;
  os << "-cl-std=CL1.2 -DDTYPE=" << static_cast<int>(d.dtype)
     << " -DCAUSAL=" << (d.mask == XINHE_ATTENTION_MASK_CAUSAL ? 1 : 0)
     << " -DWITH_LSE=" << (d.with_lse ? 1 : 0);
  return os.str();
}

std::string attention_flash_options(const xinhe_attention_desc_t& d, const FlashTile& p,
                                    const FlashLayout& layout) {
  std::ostringstream os;
  os << attention_options(d) << " -DHEAD_DIM=" << d.head_dim << " -DQWI=" << p.qwi
     << " -DBKV=" << p.bkv << " -DCONTIG_D=" << (layout.contiguous_d ? 1 : 0)
     << " -DDV=" << layout.dv;
  return os.str();
}

NdRange attention_flash_range(const xinhe_attention_desc_t& d, const FlashTile& p) {
  NdRange r;
  r.local[0] = static_cast<size_t>(p.wg);
  r.local[1] = 1;
  r.local[2] = 1;
  const size_t rows = (static_cast<size_t>(d.seq_q) + p.qwi - 1) / p.qwi;
  r.global[0] = round_up(rows, r.local[0]);
  r.global[1] = static_cast<size_t>(d.heads_q);
  r.global[2] = static_cast<size_t>(d.batch);
  return r;
}

NdRange attention_reference_range(const xinhe_attention_desc_t& d) {
  return NdRange{
      {static_cast<size_t>(d.seq_q), static_cast<size_t>(d.heads_q), static_cast<size_t>(d.batch)},
      {0, 0, 0}};
}

}  // namespace xinhe::opencl_c
