// The OpenCL C GEMM kernels' host contract (gemm_opencl.h).
#include "gemm_opencl.h"

#include <sstream>

namespace xinhe::opencl_c {
namespace {

size_t round_up(size_t v, size_t multiple) { return (v + multiple - 1) / multiple * multiple; }

}  // namespace

uint64_t GemmTile::local_memory_bytes() const {
  // a_tile[KWG][MWG] + b_tile[KWG][NWG] floats (gemm_tiled.cl), when USE_LOCAL.
  if (!use_local) return 0;
  return static_cast<uint64_t>(kwg) * (static_cast<uint64_t>(mwg) + nwg) * sizeof(float);
}

uint64_t GemmTile::private_bytes_per_work_item() const {
  // acc[MWI][NWI] plus one row of B vectors and the store staging row (gemm_tiled.cl).
  return (static_cast<uint64_t>(mwi) * nwi + 2u * static_cast<uint64_t>(nwi)) * sizeof(float);
}

std::string GemmTile::validate(const KernelLimits& limits) const {
  if (mwi < 1 || nwi < 1 || kwi < 1 || mwi > 16 || nwi > 64 || kwi > 16)
    return "MWI, NWI, KWI out of range";
  if (vw != 1 && vw != 2 && vw != 4 && vw != 8 && vw != 16) return "VW not in {1,2,4,8,16}";
  if (nwi % vw != 0) return "NWI % VW != 0";
  if (mwg < mwi || nwg < nwi || mwg % mwi != 0 || nwg % nwi != 0)
    return "MWG/NWG not multiples of MWI/NWI";
  const uint64_t wg_x = static_cast<uint64_t>(nwg / nwi), wg_y = static_cast<uint64_t>(mwg / mwi);
  if (std::string why = check_work_group(wg_x, wg_y, limits); !why.empty()) return why;
  if (use_local != 0 && use_local != 1) return "USE_LOCAL not 0/1";
  if (use_local && (kwg < 1 || kwg > 64)) return "KWG out of range";
  if (pack != 0 && pack != 1) return "PACK not 0/1";
  if (pack && use_local) return "PACK and USE_LOCAL exclude each other";
  if (local_memory_bytes() > limits.local_memory_bytes) {
    return "local tiles need " + std::to_string(local_memory_bytes()) + " bytes, the device has " +
           std::to_string(limits.local_memory_bytes);
  }
  return check_private_memory(private_bytes_per_work_item(), wg_x * wg_y, limits);
}

std::string GemmTile::to_string() const {
  std::ostringstream os;
  os << "MWI=" << mwi << ",NWI=" << nwi << ",VW=" << vw << ",KWI=" << kwi << ",MWG=" << mwg
     << ",NWG=" << nwg << ",KWG=" << kwg << ",USE_LOCAL=" << use_local << ",PACK=" << pack;
  return os.str();
}

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
