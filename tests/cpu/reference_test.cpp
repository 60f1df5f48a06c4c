// The float64 reference validated on cases small enough to compute by hand: it is the oracle
// for every backend, so it gets its own tests against known answers.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "cpu_test_util.h"
#include "reference.h"

namespace xinhe::test {
namespace {

xinhe_gemm_desc_t gemm_desc(int64_t m, int64_t n, int64_t k) {
  xinhe_gemm_desc_t d{};
  d.struct_size = sizeof(d);
  d.ab_dtype = XINHE_DTYPE_F32;
  d.c_dtype = XINHE_DTYPE_F32;
  d.m = m;
  d.n = n;
  d.k = k;
  d.batch = 1;
  d.lda = k;
  d.ldb = n;
  d.ldc = n;
  return d;
}

TEST(Reference, LoadStoreRoundTrip) {
  uint16_t h = 0;
  reference::store(XINHE_DTYPE_F16, &h, 0, 1.5);
  EXPECT_EQ(h, 0x3E00);
  EXPECT_EQ(reference::load(XINHE_DTYPE_F16, &h, 0), 1.5);
  reference::store(XINHE_DTYPE_BF16, &h, 0, -2.0);
  EXPECT_EQ(h, 0xC000);
  EXPECT_EQ(reference::load(XINHE_DTYPE_BF16, &h, 0), -2.0);
  float f[2] = {0.0f, 0.0f};
  reference::store(XINHE_DTYPE_F32, f, 1, 0.25);
  EXPECT_EQ(f[1], 0.25f);
  double g = 0.0;
  reference::store(XINHE_DTYPE_F64, &g, 0, 1.0 / 3.0);
  EXPECT_EQ(reference::load(XINHE_DTYPE_F64, &g, 0), 1.0 / 3.0);
}

TEST(Reference, Gemm2x2ByHand) {
  // [[1,2],[3,4]] * [[5,6],[7,8]] = [[19,22],[43,50]]
  const float a[] = {1, 2, 3, 4};
  const float b[] = {5, 6, 7, 8};
  const float c_in[] = {1, 1, 1, 1};
  double c[4];
  const auto d = gemm_desc(2, 2, 2);
  reference::gemm(d, a, b, nullptr, 1.0, 0.0, c);
  EXPECT_EQ(c[0], 19);
  EXPECT_EQ(c[1], 22);
  EXPECT_EQ(c[2], 43);
  EXPECT_EQ(c[3], 50);
  // alpha = 2, beta = 0.5 with C_in = 1
  reference::gemm(d, a, b, c_in, 2.0, 0.5, c);
  EXPECT_EQ(c[0], 38.5);
  EXPECT_EQ(c[3], 100.5);
}

TEST(Reference, GemmTransposesAndLeadingDimensions) {
  // op(A) = [[1,2,3],[4,5,6]] (2x3), op(B) = [[1,0],[0,1],[1,1]] (3x2) -> [[4,5],[10,11]]
  const float a_t[] = {1, 4, 9, 2, 5, 9, 3, 6, 9};  // A^T (3x2) stored with lda = 3 (pad 9)
  const float b_t[] = {1, 0, 1, 0, 1, 1};           // B^T (2x3), ldb = 3
  auto d = gemm_desc(2, 2, 3);
  d.trans_a = 1;
  d.lda = 3;
  d.trans_b = 1;
  d.ldb = 3;
  double c[4];
  reference::gemm(d, a_t, b_t, nullptr, 1.0, 0.0, c);
  EXPECT_EQ(c[0], 4);
  EXPECT_EQ(c[1], 5);
  EXPECT_EQ(c[2], 10);
  EXPECT_EQ(c[3], 11);
}

TEST(Reference, GemmBatchStrideZeroBroadcasts) {
  // One A (1x2) against two Bs (2x1): [1,2]*[3,4]^T = 11, [1,2]*[5,6]^T = 17.
  const float a[] = {1, 2};
  const float b[] = {3, 4, 5, 6};
  auto d = gemm_desc(1, 1, 2);
  d.batch = 2;
  d.stride_a = 0;
  d.stride_b = 2;
  d.stride_c = 1;
  double c[2];
  reference::gemm(d, a, b, nullptr, 1.0, 0.0, c);
  EXPECT_EQ(c[0], 11);
  EXPECT_EQ(c[1], 17);
}

TEST(Reference, GemmKZeroAndBetaZeroIgnoresNan) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float c_in[] = {2, 4};
  auto d = gemm_desc(1, 2, 0);
  double c[2];
  reference::gemm(d, nullptr, nullptr, c_in, 1.0, 0.5, c);  // k == 0: C = beta * C_in
  EXPECT_EQ(c[0], 1);
  EXPECT_EQ(c[1], 2);
  const float c_nan[] = {nan, nan};
  const float a[] = {1, 1};
  const float b[] = {1, 1, 1, 1};
  d.k = 2;
  reference::gemm(d, a, b, c_nan, 1.0, 0.0, c);
  EXPECT_EQ(c[0], 2);
  EXPECT_EQ(c[1], 2);
  // Zero-sized M is a no-op: nothing is written.
  d.m = 0;
  c[0] = 42;
  reference::gemm(d, a, b, nullptr, 1.0, 0.0, c);
  EXPECT_EQ(c[0], 42);
}

TEST(Reference, GemmHalfInputsHalfOutput) {
  uint16_t a[4], b[4], c_in[4];
  const double av[] = {0.5, -1, 2, 0.25}, bv[] = {1, 2, 3, 4};
  for (int i = 0; i < 4; ++i) {
    reference::store(XINHE_DTYPE_F16, a, i, av[i]);
    reference::store(XINHE_DTYPE_F16, b, i, bv[i]);
    reference::store(XINHE_DTYPE_F16, c_in, i, 1.0);
  }
  auto d = gemm_desc(2, 2, 2);
  d.ab_dtype = XINHE_DTYPE_F16;
  d.c_dtype = XINHE_DTYPE_F16;
  double c[4];
  reference::gemm(d, a, b, c_in, 1.0, 1.0, c);
  // [[0.5,-1],[2,0.25]] * [[1,2],[3,4]] + 1 = [[-1.5,-2],[3.75,6]]
  EXPECT_EQ(c[0], -1.5);
  EXPECT_EQ(c[1], -2);
  EXPECT_EQ(c[2], 3.75);
  EXPECT_EQ(c[3], 6);
}

TEST(Reference, AttentionSingleKeyGivesValue) {
  // With one key the softmax weight is 1: O = V, LSE = scale * q.k.
  auto d = attention_desc(XINHE_DTYPE_F32, 1, 1, 1, 3, 1, 2, false, true, Layout::kBhsd);
  d.scale = 0.5f;
  const float q[] = {1, 2, 3, 4, 5, 6};
  const float k[] = {1, -1};
  const float v[] = {7, -3};
  std::vector<double> o(6), lse(3);
  reference::attention(d, q, k, v, o.data(), lse.data());
  for (int i = 0; i < 3; ++i) {
    EXPECT_DOUBLE_EQ(o[i * 2 + 0], 7);
    EXPECT_DOUBLE_EQ(o[i * 2 + 1], -3);
    EXPECT_DOUBLE_EQ(lse[i], 0.5 * (q[i * 2] - q[i * 2 + 1]));
  }
}

TEST(Reference, AttentionUniformScoresAverageValues) {
  // All keys equal: every weight is 1/Skv, so O is the mean of V and LSE = s + ln(Skv).
  auto d = attention_desc(XINHE_DTYPE_F32, 1, 1, 1, 1, 4, 2, false, true, Layout::kBhsd);
  d.scale = 1.0f;
  const float q[] = {0.5f, 0.25f};
  const float k[] = {1, 2, 1, 2, 1, 2, 1, 2};
  const float v[] = {1, 10, 2, 20, 3, 30, 6, 60};
  double o[2], lse;
  reference::attention(d, q, k, v, o, &lse);
  EXPECT_DOUBLE_EQ(o[0], 3.0);
  EXPECT_DOUBLE_EQ(o[1], 30.0);
  EXPECT_NEAR(lse, 1.0 + std::log(4.0), 1e-15);
}

TEST(Reference, AttentionTwoKeysHandSoftmax) {
  // q.k0 = 0 and q.k1 = ln 3: weights 1/4 and 3/4.
  auto d = attention_desc(XINHE_DTYPE_F32, 1, 1, 1, 1, 2, 1, false, true, Layout::kBhsd);
  d.scale = 1.0f;
  const float q[] = {1};
  const float k[] = {0, static_cast<float>(std::log(3.0))};
  const float v[] = {4, 8};
  double o, lse;
  reference::attention(d, q, k, v, &o, &lse);
  EXPECT_NEAR(o, 0.25 * 4 + 0.75 * 8, 1e-6);  // k1 is ln 3 rounded to f32
  EXPECT_NEAR(lse, std::log(4.0), 1e-6);
}

TEST(Reference, AttentionCausalBottomRightWithMoreQueriesThanKeys) {
  // Sq = 4, Skv = 2: query i sees keys j <= i - 2. Rows 0 and 1 see nothing (O = 0, LSE = -inf),
  // row 2 sees key 0 only (O = V0), row 3 sees both.
  auto d = attention_desc(XINHE_DTYPE_F32, 1, 1, 1, 4, 2, 1, true, true, Layout::kBhsd);
  d.scale = 1.0f;
  const float q[] = {1, 1, 1, 1};
  const float k[] = {0, 0};  // equal scores: row 3 averages
  const float v[] = {2, 6};
  double o[4], lse[4];
  reference::attention(d, q, k, v, o, lse);
  EXPECT_EQ(o[0], 0);
  EXPECT_EQ(o[1], 0);
  EXPECT_TRUE(std::isinf(lse[0]) && lse[0] < 0);
  EXPECT_TRUE(std::isinf(lse[1]) && lse[1] < 0);
  EXPECT_DOUBLE_EQ(o[2], 2);
  EXPECT_DOUBLE_EQ(lse[2], 0);
  EXPECT_DOUBLE_EQ(o[3], 4);
  EXPECT_DOUBLE_EQ(lse[3], std::log(2.0));
}

TEST(Reference, AttentionCausalDecodeSeesEveryKey) {
  // Sq = 1 (decode): the single query sees all Skv keys even under the causal mask.
  auto d = attention_desc(XINHE_DTYPE_F32, 1, 1, 1, 1, 3, 1, true, false, Layout::kBhsd);
  d.scale = 1.0f;
  const float q[] = {1}, k[] = {0, 0, 0}, v[] = {3, 6, 9};
  double o;
  reference::attention(d, q, k, v, &o, nullptr);
  EXPECT_DOUBLE_EQ(o, 6);
}

TEST(Reference, AttentionGroupedQueryHeadsShareKvHeads) {
  // Hq = 4, Hkv = 2, Skv = 1: heads 0,1 read kv head 0 and heads 2,3 read kv head 1.
  auto d = attention_desc(XINHE_DTYPE_F32, 1, 4, 2, 1, 1, 1, false, false, Layout::kBhsd);
  const float q[] = {1, 2, 3, 4}, k[] = {1, 1}, v[] = {10, 20};
  double o[4];
  reference::attention(d, q, k, v, o, nullptr);
  EXPECT_EQ(o[0], 10);
  EXPECT_EQ(o[1], 10);
  EXPECT_EQ(o[2], 20);
  EXPECT_EQ(o[3], 20);
}

TEST(Reference, AttentionLayoutsAgree) {
  // The same logical tensors in BHSD and BSHD storage give identical results.
  const int64_t B = 2, H = 2, S = 3, D = 4;
  auto bhsd = attention_desc(XINHE_DTYPE_F32, B, H, H, S, S, D, true, true, Layout::kBhsd);
  auto bshd = attention_desc(XINHE_DTYPE_F32, B, H, H, S, S, D, true, true, Layout::kBshd);
  HostArray tensors[3] = {HostArray(XINHE_DTYPE_F32, B * H * S * D),
                           HostArray(XINHE_DTYPE_F32, B * H * S * D),
                           HostArray(XINHE_DTYPE_F32, B * H * S * D)};
  HostArray permuted[3] = {tensors[0], tensors[1], tensors[2]};
  for (int t = 0; t < 3; ++t) {
    fill_random(tensors[t], 100 + t);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t s = 0; s < S; ++s)
          for (int64_t x = 0; x < D; ++x) {
            const int64_t src = b * bhsd.q_strides[0] + h * bhsd.q_strides[1] + s * bhsd.q_strides[2] + x;
            const int64_t dst = b * bshd.q_strides[0] + h * bshd.q_strides[1] + s * bshd.q_strides[2] + x;
            reference::store(XINHE_DTYPE_F32, permuted[t].data(), dst, tensors[t].get(src));
          }
  }
  std::vector<double> o1(B * H * S * D), o2(B * H * S * D), l1(B * H * S), l2(B * H * S);
  reference::attention(bhsd, tensors[0].data(), tensors[1].data(), tensors[2].data(), o1.data(), l1.data());
  reference::attention(bshd, permuted[0].data(), permuted[1].data(), permuted[2].data(), o2.data(), l2.data());
  EXPECT_EQ(o1, o2);
  EXPECT_EQ(l1, l2);
}

}  // namespace
}  // namespace xinhe::test
