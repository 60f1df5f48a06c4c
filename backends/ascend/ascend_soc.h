// What the aclnn references document per Ascend product family, keyed by the SoC name
// aclrtGetSocName returns: the one place the plugin's per-chip choices come from (dtype claims,
// the GEMM route, attention). Written from the aclnnMatmul / aclnnBatchMatMul references (CANN
// 8.0: BFLOAT16 only on Atlas A2 training / 800I A2 inference products, and later A3; FLOAT
// inputs with cubeMathType KEEP_DTYPE are an error on Atlas training and inference series,
// whose cube unit takes no FLOAT) and the aclnnFlashAttentionScore reference (A2/A3 only).
#pragma once

#include <string>

namespace xinhe::ascend {

enum class SocFamily {
  kA2A3,       // Ascend910B*, Ascend910_93*: Atlas A2 / A3 training and inference products
  kTraining,   // other Ascend910* (910A, 910ProB...): Atlas training series
  kInference,  // Ascend310P*: Atlas inference series
  kUnknown,    // anything else: treated like the training/inference series (see soc_rules)
};

struct SocRules {
  SocFamily family = SocFamily::kUnknown;
  std::string soc;               // as aclrtGetSocName said
  std::string product;           // "Atlas A2/A3 product", for reasons
  bool bf16 = false;             // BFLOAT16 tensors in the aclnn operators the plugin calls
  bool f32_cube = false;         // aclnnMatmul / aclnnBatchMatMul take FLOAT with KEEP_DTYPE
  bool flash_attention = false;  // aclnnFlashAttentionScore exists for the product
  std::string unknown_note;      // why the conservative rules apply, for an unknown SoC
};

// The rules for soc (NULL or "" when aclrtGetSocName gave none). An unknown SoC gets what
// the references document for every product (f16 GEMM through aclnnMatmul), never more: a
// claim the chip cannot keep fails every op, a missing one only declines some.
SocRules soc_rules(const char* soc);

}  // namespace xinhe::ascend
