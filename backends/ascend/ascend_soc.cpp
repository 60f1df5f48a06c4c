// The per-SoC rules (ascend_soc.h).
#include "ascend_soc.h"

namespace xinhe::ascend {
namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

SocRules soc_rules(const char* soc) {
  SocRules r;
  r.soc = soc && *soc ? soc : "";
  if (starts_with(r.soc, "Ascend910B") || starts_with(r.soc, "Ascend910_93")) {
    r.family = SocFamily::kA2A3;
    r.product = "an Atlas A2/A3 product";
    r.bf16 = r.f32_cube = r.flash_attention = true;
  } else if (starts_with(r.soc, "Ascend910")) {
    r.family = SocFamily::kTraining;
    r.product = "an Atlas training series product";
  } else if (starts_with(r.soc, "Ascend310P")) {
    r.family = SocFamily::kInference;
    r.product = "an Atlas inference series product";
  } else {
    r.family = SocFamily::kUnknown;
    r.product = "a SoC this plugin does not know";
    r.unknown_note = "SoC '" + (r.soc.empty() ? std::string("(none)") : r.soc) +
                     "' is not one the plugin knows (Ascend910B*, Ascend910_93*, Ascend910*, "
                     "Ascend310P*): only what aclnn documents for every product is used (f16 "
                     "GEMM on aclnnMatmul; no bf16, f32 GEMM or flash attention)";
  }
  return r;
}

}  // namespace xinhe::ascend
