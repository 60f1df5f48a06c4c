// The OpenCL C GEMM kernels' host contract (gemm_opencl.h).
#include "gemm_opencl.h"

#include <sstream>

namespace xinhe::opencl_c {
namespace {

size_t round_up(size_t v, size_t multiple) { return (v + multiple - 1) / multiple * multiple; }

}  // namespace

GemmTile default_gemm_tile(bool cpu_like) {
  GemmTile p;
  if (!cpu_like) {  // GPU-like: local-memory tiles shared by a 16x16 group
    p.mwi = 4;
    p.nwi = 4;
    p.vw = 4;
    p.kwi = 1;
    p.mwg = 64;
    p.nwg = 64;
    p.kwg = 16;
    p.use_local = 1;
    p.pack = 0;
  }
  return p;
}

std::string gemm_options(const xinhe_gemm_desc_t& d) {
  std::ostringstream os;
  os << "-cl-std=CL1.2 -DAB_DTYPE=" << static_cast<int>(d.ab_dtype)
     << " -DC_DTYPE=" << static_cast<int>(d.c_dtype) << " -DTRANS_A=" << (d.trans_a ? 1 : 0)
     << " -DTRANS_B=" << (d.trans_b ? 1 : 0);
  return os.str();
}

std::string gemm_tiled_options(const xinhe_gemm_desc_t& d, const GemmTile& p) {
  std::ostringstream os;
  os << gemm_options(d) << " -DMWI=" << p.mwi << " -DNWI=" << p.nwi << " -DVW=" << p.vw
     << " -DKWI=" << p.kwi << " -DMWG=" << p.mwg << " -DNWG=" << p.nwg << " -DKWG=" << p.kwg
     << " -DUSE_LOCAL=" << p.use_local << " -DPACK=" << p.pack;
  return os.str();
}

bool gemm_tiled_packs(const xinhe_gemm_desc_t& d, const GemmTile& p) {
  const double work = static_cast<double>(d.m) * d.n * d.k;
  return p.pack && d.k > 0 && work >= 128.0 * 128.0 * 128.0;
}

NdRange gemm_tiled_range(const xinhe_gemm_desc_t& d, const GemmTile& p) {
  NdRange r;
  r.local[0] = static_cast<size_t>(p.nwg / p.nwi);
  r.local[1] = static_cast<size_t>(p.mwg / p.mwi);
  r.local[2] = 1;
  r.global[0] = round_up((static_cast<size_t>(d.n) + p.nwi - 1) / p.nwi, r.local[0]);
  r.global[1] = round_up((static_cast<size_t>(d.m) + p.mwi - 1) / p.mwi, r.local[1]);
  r.global[2] = static_cast<size_t>(d.batch);
  return r;
}

NdRange gemm_reference_range(const xinhe_gemm_desc_t& d) {
  return NdRange{{static_cast<size_t>(d.n), static_cast<size_t>(d.m), static_cast<size_t>(d.batch)},
                 {0, 0, 0}};
}

}  // namespace xinhe::opencl_c
