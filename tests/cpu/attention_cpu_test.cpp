// Every CPU attention implementation against the float64 reference on seeded random inputs:
// dtypes f32/f16/bf16, head dims 1..256, MHA/GQA/MQA, causal with Sq != Skv, four storage
// layouts (including d-stride != 1), LSE, degenerate sizes; serially and on a 2-thread pool.
// Outputs are poisoned with NaN before every run, so an unwritten element fails.
#include "attention_cpu.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "cpu_test_util.h"
#include "reference.h"
#include "thread_pool.h"
#include "xinhe/backend.hpp"

namespace xinhe::test {
namespace {

using kernels::cpu::AttentionImpl;
using kernels::cpu::AttentionProblem;

struct Shape {
  xinhe_dtype_t dtype;
  int64_t batch, hq, hkv, sq, skv, dim;
  bool causal;
  bool lse;
  Layout layout;
};

std::string shape_name(const Shape& s) {
  std::ostringstream out;
  out << dtype_name(s.dtype) << "_b" << s.batch << "_hq" << s.hq << "_hkv" << s.hkv
      << "_sq" << s.sq << "_skv" << s.skv << "_d" << s.dim << (s.causal ? "_causal" : "")
      << (s.lse ? "_lse" : "") << "_" << layout_name(s.layout);
  return out.str();
}

std::vector<Shape> shape_grid() {
  std::vector<Shape> grid;
  const xinhe_dtype_t dtypes[] = {XINHE_DTYPE_F32, XINHE_DTYPE_F16, XINHE_DTYPE_BF16};
  const int64_t dims[] = {64, 80, 128, 256};
  const int64_t groups[] = {1, 4, 8};  // query heads per kv head
  const Layout layouts[] = {Layout::kBhsd, Layout::kBshd, Layout::kBshdPadded, Layout::kDimMajor};
  // (Sq, Skv) pairs around the 64-row/64-key tile edges, with Sq < Skv, Sq > Skv and decode.
  const int64_t seqs[][2] = {{70, 150}, {130, 65}, {1, 200}, {64, 64}, {97, 33}, {33, 129}};
  int i = 0;
  for (xinhe_dtype_t dtype : dtypes) {
    for (int64_t dim : dims) {
      const int64_t group = groups[i % 3];
      const int64_t hkv = group == 8 ? 1 : 2;
      const auto& seq = seqs[i % 6];
      grid.push_back({dtype, 1 + i % 2, hkv * group, hkv, seq[0], seq[1], dim, i % 2 == 0,
                      i % 3 != 1, layouts[i % 4]});
      ++i;
    }
  }
  // Odd head dims and degenerate sizes in f32.
  grid.push_back({XINHE_DTYPE_F32, 1, 2, 1, 5, 7, 1, false, true, Layout::kBhsd});
  grid.push_back({XINHE_DTYPE_F32, 1, 3, 3, 19, 21, 3, true, true, Layout::kBshd});
  grid.push_back({XINHE_DTYPE_F32, 2, 2, 2, 3, 0, 16, false, true, Layout::kBhsd});   // Skv = 0
  grid.push_back({XINHE_DTYPE_F32, 1, 2, 2, 0, 9, 16, false, true, Layout::kBhsd});   // Sq = 0
  grid.push_back({XINHE_DTYPE_F32, 1, 1, 1, 200, 3, 33, true, true, Layout::kDimMajor});  // most rows see nothing
  return grid;
}

// Runs impl on shape and compares O (and LSE) with the reference.
void check_impl(const AttentionImpl& impl, const Shape& shape, kernels::Parallel& parallel) {
  const auto desc = attention_desc(shape.dtype, shape.batch, shape.hq, shape.hkv, shape.sq,
                                   shape.skv, shape.dim, shape.causal, shape.lse, shape.layout);
  HostArray q(shape.dtype, q_elements(desc));
  HostArray k(shape.dtype, kv_elements(desc, desc.k_strides));
  HostArray v(shape.dtype, kv_elements(desc, desc.v_strides));
  HostArray o(shape.dtype, o_elements(desc));
  HostArray lse(XINHE_DTYPE_F32, lse_elements(desc));
  fill_random(q, 1);
  fill_random(k, 2);
  fill_random(v, 3);
  o.poison();
  lse.poison();

  const int64_t rows = shape.batch * shape.hq * shape.sq;
  std::vector<double> o_ref(static_cast<size_t>(rows * shape.dim));
  std::vector<double> lse_ref(static_cast<size_t>(rows));
  reference::attention(desc, q.data(), k.data(), v.data(), o_ref.data(), lse_ref.data());

  ASSERT_EQ(impl.unsupported_reason(desc), nullptr);
  // Offset the workspace by 4 bytes: kernels must not assume the caller aligned it.
  std::vector<unsigned char> workspace(impl.workspace_size(desc, parallel.threads()) + 4);
  AttentionProblem problem{desc, q.data(), k.data(), v.data(), o.data(),
                           shape.lse ? static_cast<float*>(lse.data()) : nullptr,
                           workspace.data() + 4};
  impl.run(problem, parallel);

  double max_ref = 0.0;
  for (double x : o_ref) max_ref = std::max(max_ref, std::fabs(x));
  const double tol = tolerance(shape.dtype, 0) * std::max(max_ref, 1e-3);
  double worst = 0.0;
  int64_t bad = 0;
  for (int64_t b = 0; b < shape.batch; ++b)
    for (int64_t h = 0; h < shape.hq; ++h)
      for (int64_t i = 0; i < shape.sq; ++i) {
        const int64_t row = (b * shape.hq + h) * shape.sq + i;
        for (int64_t x = 0; x < shape.dim; ++x) {
          const double got = o.get(b * desc.o_strides[0] + h * desc.o_strides[1] +
                                   i * desc.o_strides[2] + x * desc.o_strides[3]);
          const double want = o_ref[static_cast<size_t>(row * shape.dim + x)];
          const double err = std::fabs(got - want);
          if (!(err <= tol)) {
            if (bad++ < 5) ADD_FAILURE() << "O[" << b << "," << h << "," << i << "," << x << "] = " << got << ", want " << want;
          }
          if (err > worst || std::isnan(err)) worst = err;
        }
        if (shape.lse) {
          const double got = lse.get(b * desc.lse_strides[0] + h * desc.lse_strides[1] + i * desc.lse_strides[2]);
          const double want = lse_ref[static_cast<size_t>(row)];
          if (std::isinf(want)) {
            if (!(std::isinf(got) && got < 0) && bad++ < 5) ADD_FAILURE() << "LSE row " << row << " = " << got << ", want -inf";
          } else if (!(std::fabs(got - want) <= 1e-4 * std::max(1.0, std::fabs(want)))) {
            if (bad++ < 5) ADD_FAILURE() << "LSE row " << row << " = " << got << ", want " << want;
          }
        }
      }
  EXPECT_EQ(bad, 0) << impl.label() << " " << shape_name(shape) << " threads=" << parallel.threads()
                    << " worst |err| " << worst << " > tol " << tol;
}

class AttentionImplTest : public ::testing::TestWithParam<std::string> {
 protected:
  const AttentionImpl& impl() {
    for (const AttentionImpl& i : kernels::cpu::attention_impls())
      if (GetParam() == i.label()) return i;
    ADD_FAILURE() << "no impl " << GetParam();
    return kernels::cpu::attention_impls().back();
  }
};

TEST_P(AttentionImplTest, MatchesReferenceSerial) {
  const AttentionImpl& i = impl();
  const auto probe = attention_desc(XINHE_DTYPE_F32, 1, 1, 1, 1, 1, 64, false, false, Layout::kBhsd);
  if (const char* why = i.unsupported_reason(probe)) GTEST_SKIP() << i.label() << ": " << why;
  kernels::SerialParallel serial;
  for (const Shape& s : shape_grid()) {
    SCOPED_TRACE(shape_name(s));
    check_impl(i, s, serial);
  }
}

TEST_P(AttentionImplTest, MatchesReferenceOnTwoThreads) {
  const AttentionImpl& i = impl();
  const auto probe = attention_desc(XINHE_DTYPE_F32, 1, 1, 1, 1, 1, 64, false, false, Layout::kBhsd);
  if (const char* why = i.unsupported_reason(probe)) GTEST_SKIP() << i.label() << ": " << why;
  backends::cpu::ThreadPool pool(2);
  for (const Shape& s : shape_grid()) {
    SCOPED_TRACE(shape_name(s));
    check_impl(i, s, pool);
  }
}

std::vector<std::string> impl_names() {
  std::vector<std::string> names;
  for (const AttentionImpl& i : kernels::cpu::attention_impls()) names.emplace_back(i.label());
  return names;
}

INSTANTIATE_TEST_SUITE_P(Cpu, AttentionImplTest, ::testing::ValuesIn(impl_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '.', '_');
                           return n;
                         });

// XINHE_ATTENTION_IMPL keeps the entries whose name contains it: no name may contain another's,
// or the later entry could not be selected alone.
TEST(AttentionImpls, NoNameContainsAnother) {
  const auto& impls = kernels::cpu::attention_impls();
  for (size_t i = 0; i < impls.size(); ++i) {
    for (size_t j = 0; j < impls.size(); ++j) {
      if (i == j) continue;
      const std::string a = xinhe::backend::impl_name("cpu", XINHE_OP_ATTENTION, impls[i].method,
                                                      "bf16", impls[i].arch);
      const std::string b = xinhe::backend::impl_name("cpu", XINHE_OP_ATTENTION, impls[j].method,
                                                      "bf16", impls[j].arch);
      EXPECT_EQ(b.find(a), std::string::npos) << b << " contains " << a;
    }
  }
}

TEST(AttentionImpls, ListEndsWithReferenceThatSupportsEverything) {
  const auto& impls = kernels::cpu::attention_impls();
  ASSERT_FALSE(impls.empty());
  EXPECT_EQ(impls.back().label(), "reference");
  for (const Shape& s : shape_grid()) {
    const auto d = attention_desc(s.dtype, s.batch, s.hq, s.hkv, s.sq, s.skv, s.dim, s.causal, s.lse, s.layout);
    EXPECT_EQ(impls.back().unsupported_reason(d), nullptr);
  }
}

TEST(AttentionImpls, FlashIsStableForLargeScores) {
  // Scores in the hundreds: a softmax without max subtraction would overflow.
  const auto& impls = kernels::cpu::attention_impls();
  auto desc = attention_desc(XINHE_DTYPE_F32, 1, 1, 1, 8, 100, 16, false, true, Layout::kBhsd);
  desc.scale = 40.0f;
  HostArray q(XINHE_DTYPE_F32, q_elements(desc)), k(XINHE_DTYPE_F32, kv_elements(desc, desc.k_strides)),
      v(XINHE_DTYPE_F32, kv_elements(desc, desc.v_strides)), o(XINHE_DTYPE_F32, o_elements(desc)),
      lse(XINHE_DTYPE_F32, lse_elements(desc));
  fill_random(q, 7);
  fill_random(k, 8);
  fill_random(v, 9);
  std::vector<double> o_ref(8 * 16), lse_ref(8);
  reference::attention(desc, q.data(), k.data(), v.data(), o_ref.data(), lse_ref.data());
  kernels::SerialParallel serial;
  for (const AttentionImpl& impl : impls) {
    if (impl.unsupported_reason(desc) != nullptr) continue;
    o.poison();
    lse.poison();
    std::vector<unsigned char> ws(impl.workspace_size(desc, 1));
    impl.run({desc, q.data(), k.data(), v.data(), o.data(), static_cast<float*>(lse.data()), ws.data()}, serial);
    for (int i = 0; i < 8 * 16; ++i)
      EXPECT_NEAR(o.get(i), o_ref[i], 5e-4) << impl.label() << " " << i;
    for (int i = 0; i < 8; ++i)
      EXPECT_NEAR(lse.get(i * desc.lse_strides[2]), lse_ref[i], 1e-5 * std::fabs(lse_ref[i]))
          << impl.label();
  }
}

}  // namespace
}  // namespace xinhe::test
