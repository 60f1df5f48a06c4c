// What the CNNL host double needs from the CNRT host double: device memory lookups and the
// queue's worker. Both doubles are test code (tests/cambricon/README.md); the plugin sees only
// the vendor symbols of backends/cambricon/cambricon_api.h.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "cambricon_api.h"

#define XINHE_DOUBLE_EXPORT extern "C" __attribute__((visibility("default")))

namespace xinhe_double {

// The host storage behind [device_pointer, device_pointer + bytes), or NULL when that range
// is not inside one live device allocation (bytes may be 0: the pointer must still be inside).
void* resolve(const void* device_pointer, size_t bytes);

// True when pointer lies in the double's device address range (live or freed).
bool is_device_address(const void* pointer);

// Appends work to queue; it runs on the queue's worker in submission order. A task that
// returns a non-empty string faults the queue: the next cnrtQueueSync reports it.
cnrtRet_t enqueue(cnrtQueue_t queue, std::function<std::string()> task);

}  // namespace xinhe_double
