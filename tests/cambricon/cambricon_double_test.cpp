// The host doubles' own rules (tests/cambricon/double), called directly: a double that let a
// broken plugin through would make the conformance run over it worthless, so each documented
// rule has a test that breaks it and expects the error.
#include <gtest/gtest.h>

#include <cstring>
#include <future>
#include <string>
#include <type_traits>
#include <vector>

#include "cambricon_api.h"
#include "double_internal.h"

namespace {

struct Fixture : ::testing::Test {
  cnrtQueue_t queue = nullptr;
  cnnlHandle_t handle = nullptr;
  std::vector<void*> allocations;
  std::vector<cnnlTensorDescriptor_t> tensors;

  void SetUp() override {
    ASSERT_EQ(cnrtSetDevice(0), cnrtSuccess);
    ASSERT_EQ(cnrtQueueCreate(&queue), cnrtSuccess);
    ASSERT_EQ(cnnlCreate(&handle), CNNL_STATUS_SUCCESS);
    ASSERT_EQ(cnnlSetQueue(handle, queue), CNNL_STATUS_SUCCESS);
  }
  void TearDown() override {
    cnrtQueueSync(queue);
    for (void* p : allocations) cnrtFree(p);
    for (auto t : tensors) cnnlDestroyTensorDescriptor(t);
    cnnlDestroy(handle);
    cnrtQueueDestroy(queue);
  }
  void* device_alloc(size_t bytes) {
    void* p = nullptr;
    EXPECT_EQ(cnrtMalloc(&p, bytes), cnrtSuccess);
    allocations.push_back(p);
    return p;
  }
  cnnlTensorDescriptor_t tensor(cnnlDataType_t t, std::vector<int> dims, std::vector<int> strides,
                                cnnlStatus_t expect = CNNL_STATUS_SUCCESS) {
    cnnlTensorDescriptor_t d = nullptr;
    EXPECT_EQ(cnnlCreateTensorDescriptor(&d), CNNL_STATUS_SUCCESS);
    tensors.push_back(d);
    EXPECT_EQ(cnnlSetTensorDescriptorEx(d, CNNL_LAYOUT_ARRAY, t, static_cast<int>(dims.size()),
                                        dims.data(), strides.data()),
              expect);
    return d;
  }
};

TEST_F(Fixture, CopyDirectionsMustMatchThePointers) {
  void* dev = device_alloc(64);
  std::vector<uint8_t> host(64, 7), back(64, 0);
  EXPECT_EQ(cnrtMemcpyAsync(dev, host.data(), 64, queue, cnrtMemcpyDevToHost),
            cnrtErrorArgsInvalid);
  EXPECT_EQ(cnrtMemcpyAsync(host.data(), dev, 64, queue, cnrtMemcpyHostToDev),
            cnrtErrorArgsInvalid);
  EXPECT_EQ(cnrtMemcpyAsync(dev, host.data(), 64, queue, cnrtMemcpyDevToDev), cnrtErrorArgsInvalid);
  EXPECT_EQ(cnrtMemcpyAsync(dev, host.data(), 65, queue, cnrtMemcpyHostToDev),
            cnrtErrorArgsInvalid);  // past the allocation
  EXPECT_EQ(cnrtMemcpyAsync(dev, host.data(), 64, queue, cnrtMemcpyNoDirection),
            cnrtErrorMemcpyDirectionInvalid);
  ASSERT_EQ(cnrtMemcpyAsync(dev, host.data(), 64, queue, cnrtMemcpyHostToDev), cnrtSuccess);
  ASSERT_EQ(cnrtMemcpyAsync(back.data(), dev, 64, queue, cnrtMemcpyDevToHost), cnrtSuccess);
  ASSERT_EQ(cnrtQueueSync(queue), cnrtSuccess);
  EXPECT_EQ(back, host);
}

TEST_F(Fixture, DeviceMemoryIsNotHostAddressable) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto* dev = static_cast<volatile uint8_t*>(device_alloc(64));
  EXPECT_DEATH((void)dev[0], "");
}

TEST_F(Fixture, AsynchronousCopiesReadHostMemoryWhenTheyRun) {
  void* dev = device_alloc(4);
  cnrtNotifier_t gate = nullptr;
  cnrtQueue_t other = nullptr;
  ASSERT_EQ(cnrtNotifierCreate(&gate), cnrtSuccess);
  ASSERT_EQ(cnrtQueueCreate(&other), cnrtSuccess);
  // Hold `queue` behind a notifier placed on `other` after a task that waits for `release`:
  // a timed gate (a large fill) lost the race on a loaded CI machine.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  struct OpenOnExit {  // a failed ASSERT must not leave the queues blocked for TearDown
    std::promise<void>& gate;
    bool open = false;
    void operator()() { open = open || (gate.set_value(), true); }
    ~OpenOnExit() { (*this)(); }
  } open_gate{release};
  ASSERT_EQ(xinhe_double::enqueue(other,
                                  [released]() -> std::string {
                                    released.wait();
                                    return "";
                                  }),
            cnrtSuccess);
  ASSERT_EQ(cnrtPlaceNotifier(gate, other), cnrtSuccess);
  ASSERT_EQ(cnrtQueueWaitNotifier(gate, queue, 0), cnrtSuccess);
  uint32_t value = 1, back = 0;
  ASSERT_EQ(cnrtMemcpyAsync(dev, &value, 4, queue, cnrtMemcpyHostToDev), cnrtSuccess);
  value = 2;  // before the queue reaches the copy (the gate holds it)
  ASSERT_EQ(cnrtMemcpyAsync(&back, dev, 4, queue, cnrtMemcpyDevToHost), cnrtSuccess);
  EXPECT_EQ(cnrtQueueQuery(queue), cnrtErrorNotReady);
  open_gate();
  ASSERT_EQ(cnrtQueueSync(queue), cnrtSuccess);
  EXPECT_EQ(back, 2u);
  cnrtQueueDestroy(other);
  cnrtNotifierDestroy(gate);
}

TEST_F(Fixture, NotifiersTimeAndOrder) {
  cnrtNotifier_t a = nullptr, b = nullptr;
  ASSERT_EQ(cnrtNotifierCreate(&a), cnrtSuccess);
  ASSERT_EQ(cnrtNotifierCreate(&b), cnrtSuccess);
  float ms = -1;
  EXPECT_NE(cnrtNotifierElapsedTime(a, b, &ms), cnrtSuccess);  // never placed
  void* big = device_alloc(32 << 20);
  ASSERT_EQ(cnrtPlaceNotifier(a, queue), cnrtSuccess);
  ASSERT_EQ(cnrtMemsetAsync(big, 3, 32 << 20, queue), cnrtSuccess);
  ASSERT_EQ(cnrtPlaceNotifier(b, queue), cnrtSuccess);
  ASSERT_EQ(cnrtWaitNotifier(b), cnrtSuccess);
  EXPECT_EQ(cnrtQueryNotifier(b), cnrtSuccess);
  ASSERT_EQ(cnrtNotifierElapsedTime(a, b, &ms), cnrtSuccess);
  EXPECT_GT(ms, 0.0f);
  cnrtNotifierDestroy(a);
  cnrtNotifierDestroy(b);
}

TEST_F(Fixture, AHandleWorksOnlyOnItsQueue) {
  cnnlHandle_t unbound = nullptr;
  ASSERT_EQ(cnnlCreate(&unbound), CNNL_STATUS_SUCCESS);
  void* dev = device_alloc(16);
  auto t = tensor(CNNL_DTYPE_FLOAT, {4}, {1});
  EXPECT_EQ(cnnlCopy(unbound, t, dev, t, dev), CNNL_STATUS_BAD_PARAM);
  EXPECT_EQ(cnnlCopy(handle, t, dev, t, dev), CNNL_STATUS_SUCCESS);
  cnnlDestroy(unbound);
}

TEST_F(Fixture, DimensionsAreNonNegativeInt32) {
  // An int64 size truncated to int32 usually turns negative: the descriptor refuses it.
  tensor(CNNL_DTYPE_FLOAT, {static_cast<int>(int64_t{1} << 31 | 5)}, {1}, CNNL_STATUS_BAD_PARAM);
  tensor(CNNL_DTYPE_FLOAT, {4}, {-1}, CNNL_STATUS_BAD_PARAM);
}

struct Matmul {
  cnnlMatMulDescriptor_t desc = nullptr;
  cnnlMatMulAlgo_t algo = nullptr;
  cnnlMatMulHeuristicResult_t result = nullptr;
  Matmul() {
    cnnlMatMulDescCreate(&desc);
    cnnlMatMulAlgoCreate(&algo);
    cnnlCreateMatMulHeuristicResult(&result);
  }
  ~Matmul() {
    cnnlDestroyMatMulHeuristicResult(result);
    cnnlMatMulAlgoDestroy(algo);
    cnnlMatMulDescDestroy(desc);
  }
  void set(cnnlMatMulDescAttribute_t attr, int32_t v) {
    cnnlSetMatMulDescAttr(desc, attr, &v, sizeof v);
  }
};

TEST_F(Fixture, MatmulWorkspaceIsCheckedAndPoisoned) {
  auto a = tensor(CNNL_DTYPE_FLOAT, {1, 2, 3}, {6, 3, 1});
  auto b = tensor(CNNL_DTYPE_FLOAT, {1, 3, 2}, {6, 2, 1});
  auto c = tensor(CNNL_DTYPE_FLOAT, {1, 2, 2}, {4, 2, 1});
  Matmul mm;
  int count = 0;
  ASSERT_EQ(cnnlGetBatchMatMulAlgoHeuristic(handle, mm.desc, a, b, c, /*preference=*/nullptr, 1,
                                            &mm.result, &count),
            CNNL_STATUS_SUCCESS);
  size_t ws = 0;
  ASSERT_EQ(cnnlGetBatchMatMulHeuristicResult(mm.result, mm.algo, &ws), CNNL_STATUS_SUCCESS);
  ASSERT_GT(ws, 0u);
  void* da = device_alloc(24);
  void* db = device_alloc(24);
  void* dc = device_alloc(16);
  void* dws = device_alloc(ws);
  const float alpha = 1, beta = 0;
  EXPECT_EQ(cnnlBatchMatMulBCast_v2(handle, mm.desc, mm.algo, &alpha, a, da, b, db, &beta, c, dc,
                                    dws, ws - 1),
            CNNL_STATUS_BAD_PARAM);
  ASSERT_EQ(cnrtMemsetAsync(dws, 0, ws, queue), cnrtSuccess);
  ASSERT_EQ(cnnlBatchMatMulBCast_v2(handle, mm.desc, mm.algo, &alpha, a, da, b, db, &beta, c, dc,
                                    dws, ws),
            CNNL_STATUS_SUCCESS);
  std::vector<uint8_t> back(ws);
  ASSERT_EQ(cnrtMemcpyAsync(back.data(), dws, ws, queue, cnrtMemcpyDevToHost), cnrtSuccess);
  ASSERT_EQ(cnrtQueueSync(queue), cnrtSuccess);
  EXPECT_EQ(back[0], 0xFF);  // poisoned on entry, not the zeros written before
}

TEST_F(Fixture, NoFp64) {
  auto a = tensor(CNNL_DTYPE_DOUBLE, {1, 2, 2}, {4, 2, 1});
  Matmul mm;
  int count = 0;
  EXPECT_EQ(cnnlGetBatchMatMulAlgoHeuristic(handle, mm.desc, a, a, a, /*preference=*/nullptr, 1,
                                            &mm.result, &count),
            CNNL_STATUS_NOT_SUPPORTED);
}

TEST_F(Fixture, StridedMatmulOperandsNeedUseStride) {
  auto a = tensor(CNNL_DTYPE_FLOAT, {1, 2, 2}, {8, 4, 1});  // lda 4 > 2
  auto c = tensor(CNNL_DTYPE_FLOAT, {1, 2, 2}, {4, 2, 1});
  Matmul mm;
  int count = 0;
  EXPECT_EQ(cnnlGetBatchMatMulAlgoHeuristic(handle, mm.desc, a, c, c, /*preference=*/nullptr, 1,
                                            &mm.result, &count),
            CNNL_STATUS_BAD_PARAM);
  mm.set(CNNL_MATMUL_USE_STRIDE, 1);
  EXPECT_EQ(cnnlGetBatchMatMulAlgoHeuristic(handle, mm.desc, a, c, c, /*preference=*/nullptr, 1,
                                            &mm.result, &count),
            CNNL_STATUS_SUCCESS);
}

// cnnl.h declares the heuristic's preference as a pointer (cnnlMatMulPrefer_t), not an enum;
// nothing creates one here, so anything but NULL is a bad argument.
static_assert(std::is_pointer_v<cnnlMatMulPrefer_t>);
static_assert(
    std::is_same_v<decltype(&cnnlGetBatchMatMulAlgoHeuristic),
                   cnnlStatus_t (*)(cnnlHandle_t, cnnlMatMulDescriptor_t, cnnlTensorDescriptor_t,
                                    cnnlTensorDescriptor_t, cnnlTensorDescriptor_t,
                                    cnnlMatMulPrefer_t, int, cnnlMatMulHeuristicResult_t[], int*)>);

TEST_F(Fixture, MatmulPreferenceIsNull) {
  auto a = tensor(CNNL_DTYPE_FLOAT, {1, 2, 2}, {4, 2, 1});
  Matmul mm;
  int count = 0;
  int junk = 0;
  EXPECT_EQ(cnnlGetBatchMatMulAlgoHeuristic(handle, mm.desc, a, a, a,
                                            reinterpret_cast<cnnlMatMulPrefer_t>(&junk), 1,
                                            &mm.result, &count),
            CNNL_STATUS_BAD_PARAM);
  EXPECT_EQ(
      cnnlGetBatchMatMulAlgoHeuristic(handle, mm.desc, a, a, a, nullptr, 1, &mm.result, &count),
      CNNL_STATUS_SUCCESS);
}

// Stride mode with beta: no public material says CNNL supports it (torch_mlu sets
// use_stride = beta == 0), so the double refuses it.
TEST_F(Fixture, MatmulStrideModeWithBetaIsNotSupported) {
  auto a = tensor(CNNL_DTYPE_FLOAT, {1, 2, 2}, {4, 2, 1});
  Matmul mm;
  int count = 0;
  mm.set(CNNL_MATMUL_USE_STRIDE, 1);
  mm.set(CNNL_MATMUL_USE_BETA, 1);
  EXPECT_EQ(
      cnnlGetBatchMatMulAlgoHeuristic(handle, mm.desc, a, a, a, nullptr, 1, &mm.result, &count),
      CNNL_STATUS_NOT_SUPPORTED);
  mm.set(CNNL_MATMUL_USE_STRIDE, 0);
  EXPECT_EQ(
      cnnlGetBatchMatMulAlgoHeuristic(handle, mm.desc, a, a, a, nullptr, 1, &mm.result, &count),
      CNNL_STATUS_SUCCESS);
}

// rng_state is a host size_t[2] that every public caller passes: NULL is refused.
TEST_F(Fixture, FlashAttentionNeedsRngState) {
  cnnlFlashAttentionDescriptor_t fa = nullptr;
  ASSERT_EQ(cnnlCreateFlashAttentionDescriptor(&fa), CNNL_STATUS_SUCCESS);
  ASSERT_EQ(
      cnnlSetFlashAttentionDescriptor(fa, CNNL_DTYPE_FLOAT, CNNL_ACTIVATION_HIGH_PRECISION,
                                      CNNL_ATTN_MASK_NONE, true, false, false, 2, 2, 0.0f, 0.5f),
      CNNL_STATUS_SUCCESS);
  ASSERT_EQ(cnnlSetFlashAttentionSlidingWindowSize(fa, -1, -1, 1), CNNL_STATUS_SUCCESS);
  auto qkv = tensor(CNNL_DTYPE_HALF, {2, 1, 8}, {8, 8, 1});
  auto lse = tensor(CNNL_DTYPE_FLOAT, {1, 2}, {2, 1});
  auto cu = tensor(CNNL_DTYPE_INT32, {2}, {1});
  size_t ws = 0;
  ASSERT_EQ(cnnlGetFlashAttentionForwardWorkspaceSize(handle, fa, qkv, qkv, qkv, &ws),
            CNNL_STATUS_SUCCESS);
  void* data = device_alloc(32);
  void* out = device_alloc(32);
  void* dlse = device_alloc(8);
  void* dcu = device_alloc(8);
  void* dws = device_alloc(ws);
  const int32_t offsets[2] = {0, 2};
  ASSERT_EQ(cnrtMemcpyAsync(dcu, const_cast<int32_t*>(offsets), 8, queue, cnrtMemcpyHostToDev),
            cnrtSuccess);
  ASSERT_EQ(cnrtMemsetAsync(data, 0, 32, queue), cnrtSuccess);
  EXPECT_EQ(cnnlFlashAttentionForward(handle, fa, qkv, data, qkv, data, qkv, data, cu, dcu, cu, dcu,
                                      nullptr, dws, ws, nullptr, nullptr, lse, dlse, qkv, out),
            CNNL_STATUS_BAD_PARAM);
  const size_t rng[2] = {0, 0};
  EXPECT_EQ(cnnlFlashAttentionForward(handle, fa, qkv, data, qkv, data, qkv, data, cu, dcu, cu, dcu,
                                      rng, dws, ws, nullptr, nullptr, lse, dlse, qkv, out),
            CNNL_STATUS_SUCCESS);
  EXPECT_EQ(cnrtQueueSync(queue), cnrtSuccess);
  cnnlDestroyFlashAttentionDescriptor(fa);
}

TEST_F(Fixture, FlashAttentionLayoutHeadDimAndDtypes) {
  cnnlFlashAttentionDescriptor_t fa = nullptr;
  ASSERT_EQ(cnnlCreateFlashAttentionDescriptor(&fa), CNNL_STATUS_SUCCESS);
  ASSERT_EQ(cnnlSetFlashAttentionDescriptor(fa, CNNL_DTYPE_FLOAT, CNNL_ACTIVATION_HIGH_PRECISION,
                                            CNNL_ATTN_MASK_CAUSAL, true, false, false, 8, 8, 0.0f,
                                            0.125f),
            CNNL_STATUS_SUCCESS);
  size_t ws = 0;
  auto packed = tensor(CNNL_DTYPE_HALF, {8, 2, 64}, {128, 64, 1});
  // The window is set before any query, as Cambricon's callers do; only "no window" is modelled.
  EXPECT_EQ(cnnlGetFlashAttentionForwardWorkspaceSize(handle, fa, packed, packed, packed, &ws),
            CNNL_STATUS_BAD_PARAM);
  EXPECT_EQ(cnnlSetFlashAttentionSlidingWindowSize(fa, 16, 0, 1), CNNL_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(cnnlSetFlashAttentionSlidingWindowSize(fa, -1, -1, 0), CNNL_STATUS_BAD_PARAM);
  ASSERT_EQ(cnnlSetFlashAttentionSlidingWindowSize(fa, -1, -1, 1), CNNL_STATUS_SUCCESS);
  EXPECT_EQ(cnnlGetFlashAttentionForwardWorkspaceSize(handle, fa, packed, packed, packed, &ws),
            CNNL_STATUS_SUCCESS);
  auto bhsd = tensor(CNNL_DTYPE_HALF, {8, 2, 64}, {64, 512, 1});  // heads outermost: not packed
  EXPECT_EQ(cnnlGetFlashAttentionForwardWorkspaceSize(handle, fa, bhsd, packed, packed, &ws),
            CNNL_STATUS_BAD_PARAM);
  auto wide = tensor(CNNL_DTYPE_HALF, {8, 2, 264}, {528, 264, 1});
  EXPECT_EQ(cnnlGetFlashAttentionForwardWorkspaceSize(handle, fa, wide, wide, wide, &ws),
            CNNL_STATUS_NOT_SUPPORTED);
  auto f32 = tensor(CNNL_DTYPE_FLOAT, {8, 2, 64}, {128, 64, 1});
  EXPECT_EQ(cnnlGetFlashAttentionForwardWorkspaceSize(handle, fa, f32, f32, f32, &ws),
            CNNL_STATUS_NOT_SUPPORTED);
  auto f64 = tensor(CNNL_DTYPE_DOUBLE, {8, 2, 64}, {128, 64, 1});
  EXPECT_EQ(cnnlGetFlashAttentionForwardWorkspaceSize(handle, fa, f64, f64, f64, &ws),
            CNNL_STATUS_NOT_SUPPORTED);
  auto gqa_bad = tensor(CNNL_DTYPE_HALF, {8, 3, 64}, {192, 64, 1});  // 2 % 3 != 0
  EXPECT_EQ(cnnlGetFlashAttentionForwardWorkspaceSize(handle, fa, packed, gqa_bad, gqa_bad, &ws),
            CNNL_STATUS_BAD_PARAM);
  cnnlDestroyFlashAttentionDescriptor(fa);
}

}  // namespace
