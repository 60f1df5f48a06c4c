// Event slots for stream capture and synchronization (see EventSlots in level_zero_internal.h):
// pools of 64 host-visible kernel-timestamp events, grown on demand, recycled once signaled.
#include "level_zero_internal.h"

namespace xinhe::level_zero {
namespace {
constexpr uint32_t kEventsPerPool = 64;
}  // namespace

void EventSlots::init(const ZeApi* ze, ze_context_handle_t context, ze_device_handle_t device) {
  ze_ = ze;
  context_ = context;
  device_ = device;
}

void EventSlots::destroy() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& slot : all_) ze_->zeEventDestroy(slot->event);
  for (ze_event_pool_handle_t pool : pools_) ze_->zeEventPoolDestroy(pool);
  all_.clear();
  pools_.clear();
  free_.clear();
  retired_.clear();
}

size_t EventSlots::pool_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pools_.size();
}

// Retired slots whose signal has landed are reset and become free.
void EventSlots::recycle_locked() {
  for (size_t i = 0; i < retired_.size();) {
    Slot* slot = retired_[i];
    if (ze_->zeEventQueryStatus(slot->event) == ZE_RESULT_SUCCESS &&
        ze_->zeEventHostReset(slot->event) == ZE_RESULT_SUCCESS) {
      slot->armed = false;
      free_.push_back(slot);
      retired_[i] = retired_.back();
      retired_.pop_back();
    } else {
      ++i;
    }
  }
}

ZeCall EventSlots::acquire(Slot** out) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (free_.empty()) recycle_locked();
  if (free_.empty()) {
    ze_event_pool_desc_t pdesc = ze_struct<ze_event_pool_desc_t>(ZE_STRUCTURE_TYPE_EVENT_POOL_DESC);
    pdesc.flags = ZE_EVENT_POOL_FLAG_HOST_VISIBLE | ZE_EVENT_POOL_FLAG_KERNEL_TIMESTAMP;
    pdesc.count = kEventsPerPool;
    ze_event_pool_handle_t pool = nullptr;
    ze_device_handle_t device = device_;
    XINHE_ZE_TRY(ze_->zeEventPoolCreate(context_, &pdesc, 1, &device, &pool), "zeEventPoolCreate");
    pools_.push_back(pool);
    for (uint32_t i = 0; i < kEventsPerPool; ++i) {
      ze_event_desc_t edesc = ze_struct<ze_event_desc_t>(ZE_STRUCTURE_TYPE_EVENT_DESC);
      edesc.index = i;
      // Visible to the host once signalled, and to other command lists of the device.
      edesc.signal = ZE_EVENT_SCOPE_FLAG_HOST;
      edesc.wait = ZE_EVENT_SCOPE_FLAG_HOST;
      auto slot = std::make_unique<Slot>();
      XINHE_ZE_TRY(ze_->zeEventCreate(pool, &edesc, &slot->event), "zeEventCreate");
      free_.push_back(slot.get());
      all_.push_back(std::move(slot));
    }
  }
  Slot* slot = free_.back();
  free_.pop_back();
  slot->refs = 1;
  slot->armed = false;
  *out = slot;
  return {};
}

void EventSlots::retain(Slot* slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++slot->refs;
}

// A slot nothing will signal (never armed, or disarmed) is still unsignaled: free at once.
void EventSlots::release(Slot* slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (--slot->refs == 0) (slot->armed ? retired_ : free_).push_back(slot);
}

void EventSlots::arm(Slot* slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  slot->armed = true;
}

void EventSlots::disarm(Slot* slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  slot->armed = false;
}

}  // namespace xinhe::level_zero
