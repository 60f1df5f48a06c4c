// The OpenCL C attention kernels' host contract (attention_opencl.h).
#include "attention_opencl.h"

#include <sstream>

namespace xinhe::opencl_c {
namespace {

size_t round_up(size_t v, size_t multiple) { return (v + multiple - 1) / multiple * multiple; }

}  // namespace

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
