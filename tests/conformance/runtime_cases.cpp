// Runtime semantics cases: properties, buffers, copies, fills, stream order, events, timing,
// destruction with pending work, out-of-memory and bad arguments. Each case observes behaviour
// only through the public API, so it means the same on every backend.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "case_util.h"

namespace xinhe::conformance {

using namespace detail;

namespace {

std::vector<uint8_t> random_bytes(Rng& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; i += 4) {
    const uint32_t r = rng.bits32();
    std::memcpy(&v[i], &r, std::min<size_t>(4, n - i));
  }
  return v;
}

std::vector<uint8_t> download(const Stream& stream, const Buffer& buffer, uint64_t offset,
                              uint64_t size) {
  std::vector<uint8_t> out(size);
  stream.copy_to_host(out.data(), buffer, size, offset);
  stream.synchronize();
  return out;
}

// Index of the first differing byte, or -1.
int64_t first_mismatch(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want) {
  if (got.size() != want.size()) return 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (got[i] != want[i]) return static_cast<int64_t>(i);
  return -1;
}

bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

CaseResult properties_case(const Device& device) {
  const xinhe_device_properties_t p = device.properties();
  if (device.name().empty()) return fail("xinhe_device_name is empty");
  if (device.name() != p.name)
    return fail("properties.name '" + std::string(p.name) + "' != xinhe_device_name '" +
                device.name() + "'");
  if (std::string(p.name).rfind(std::string(p.backend) + ":", 0) != 0)
    return fail("name '" + std::string(p.name) + "' does not start with backend '" + p.backend +
                ":'");
  if (!is_power_of_two(p.min_alignment))
    return fail("min_alignment " + std::to_string(p.min_alignment) + " is not a power of two");
  if (p.total_memory == 0) return fail("total_memory is 0");
  if (p.dtype_caps == 0) return fail("dtype_caps is empty: the device claims no op dtype");
  Device again = Device::get(device.name());
  if (again.get() != device.get()) return fail("xinhe_device_get_by_name returns another device");
  return pass(std::string(p.description) + " / " + p.vendor + " / " + p.driver_version);
}

// The address of a buffer is not observable through the API, so alignment is checked by what
// the contract promises around it: power-of-two requests are accepted (with min_alignment
// reported as a power of two), the buffer works at its full size, and a request that is not a
// power of two is rejected.
CaseResult alignment_case(const Device& device, uint64_t alignment, const std::string& name) {
  Rng rng(name);
  const uint64_t size = 4096 + 13;
  Buffer buffer = device.alloc(size, alignment);
  if (buffer.size() != size)
    return fail("buffer_size " + std::to_string(buffer.size()) + " != " + std::to_string(size));
  if (buffer.device().get() != device.get()) return fail("buffer_device is another device");
  Stream stream = device.create_stream();
  const std::vector<uint8_t> data = random_bytes(rng, size);
  stream.copy_from_host(buffer, data.data(), size);
  const std::vector<uint8_t> back = download(stream, buffer, 0, size);
  if (int64_t at = first_mismatch(back, data); at >= 0)
    return fail("round trip differs at byte " + std::to_string(at));
  xinhe_buffer_t bad = nullptr;
  expect_code(xinhe_buffer_alloc(device.get(), 64, 3, &bad), XINHE_STATUS_INVALID_ARGUMENT,
              "alloc with alignment 3");
  if (bad) return fail("alloc with alignment 3 wrote its output on failure");
  return pass("min_alignment " + std::to_string(device.properties().min_alignment));
}

CaseResult zero_size_case(const Device& device) {
  Buffer empty = device.alloc(0);
  if (!empty) return fail("alloc(0) gave a null buffer");
  if (empty.size() != 0) return fail("alloc(0) has size " + std::to_string(empty.size()));
  Buffer other = device.alloc(0, 256);
  Stream stream = device.create_stream();
  uint8_t host[1] = {0x5a};
  stream.copy_from_host(empty, host, 0);
  stream.copy_to_host(host, empty, 0);
  stream.copy(other, empty, 0);
  stream.fill(empty, 0xffu, 1, 0, 0);
  stream.synchronize();
  if (host[0] != 0x5a) return fail("a 0-byte copy to host wrote host memory");
  return pass();
}

CaseResult round_trip_case(const Device& device) {
  Rng rng("runtime.round_trip");
  const uint64_t size = (1u << 20) + 13;  // odd size: no path may round up
  const uint64_t offset = 77;
  Buffer first = device.alloc(size);
  Buffer second = device.alloc(size + offset);
  Stream stream = device.create_stream();
  const std::vector<uint8_t> data = random_bytes(rng, size);
  stream.copy_from_host(first, data.data(), size);
  stream.copy(second, first, size, offset, 0);
  std::vector<uint8_t> back = download(stream, second, offset, size);
  if (int64_t at = first_mismatch(back, data); at >= 0)
    return fail("host->device->device->host differs at byte " + std::to_string(at));
  // A sub-range, to catch offsets applied on one side only.
  const uint64_t sub = 4099;
  back = download(stream, second, offset + 1000, sub);
  const std::vector<uint8_t> want(data.begin() + 1000, data.begin() + 1000 + sub);
  if (int64_t at = first_mismatch(back, want); at >= 0)
    return fail("sub-range read at offset differs at byte " + std::to_string(at));
  return pass("seed " + std::to_string(base_seed()));
}

CaseResult fill_case(const Device& device, uint32_t pattern_size) {
  const std::string name = "runtime.fill." + std::to_string(pattern_size) + "byte";
  Rng rng(name);
  const uint64_t size = 65536;
  Buffer buffer = device.alloc(size);
  Stream stream = device.create_stream();
  std::vector<uint8_t> want = random_bytes(rng, size);
  stream.copy_from_host(buffer, want.data(), size);
  const uint32_t pattern = pattern_size == 1 ? 0xa5u : pattern_size == 2 ? 0xbeefu : 0xdeadc0deu;
  // Several ranges at pattern-aligned but otherwise odd offsets, including the buffer's tail.
  const uint64_t ranges[][2] = {{pattern_size * 3, pattern_size * 1001},
                                {pattern_size * 5000, pattern_size * 7},
                                {size - pattern_size * 513, pattern_size * 513}};
  for (const auto& r : ranges) {
    stream.fill(buffer, pattern, pattern_size, r[0], r[1]);
    for (uint64_t off = r[0]; off < r[0] + r[1]; off += pattern_size)
      std::memcpy(&want[off], &pattern, pattern_size);
  }
  const std::vector<uint8_t> got = download(stream, buffer, 0, size);
  if (int64_t at = first_mismatch(got, want); at >= 0)
    return fail("content differs at byte " + std::to_string(at) +
                " (fill wrote outside its range or the wrong pattern)");
  uint32_t pat = pattern;
  expect_code(xinhe_buffer_fill(stream.get(), buffer.get(), 0, 16, &pat, 3),
              XINHE_STATUS_INVALID_ARGUMENT, "fill with a 3-byte pattern");
  if (pattern_size > 1) {
    expect_code(
        xinhe_buffer_fill(stream.get(), buffer.get(), 1, pattern_size * 4, &pat, pattern_size),
        XINHE_STATUS_INVALID_ARGUMENT, "fill at an offset not a multiple of the pattern");
  }
  return pass("seed " + std::to_string(base_seed()));
}

// Slot i of `log` must end up holding value i: every step overwrites the one scratch buffer,
// so any reordering of fills and copies within the stream leaves a wrong value in some slot.
CaseResult stream_fifo_case(const Device& device) {
  const uint64_t slot = 64 * 1024;  // big enough that each copy is real work
  const uint32_t slots = 48;
  Buffer scratch = device.alloc(slot);
  Buffer log = device.alloc(slot * slots);
  Stream stream = device.create_stream();
  for (uint32_t i = 0; i < slots; ++i) {
    stream.fill(scratch, 0x01000000u * (i % 7) + i, 4, 0, slot);
    stream.copy(log, scratch, slot, i * slot, 0);
  }
  const std::vector<uint8_t> got = download(stream, log, 0, slot * slots);
  for (uint32_t i = 0; i < slots; ++i) {
    const uint32_t want = 0x01000000u * (i % 7) + i;
    for (uint64_t off = 0; off < slot; off += 4) {
      uint32_t v;
      std::memcpy(&v, &got[i * slot + off], 4);
      if (v != want)
        return fail("slot " + std::to_string(i) + " byte " + std::to_string(off) +
                    " holds a value of another step: work ran out of submission order");
    }
  }
  return pass();
}

// Stream A does a long chain of dependent work ending in a known pattern; stream B waits on
// an event recorded after it and copies the result. Without the wait, B would read the
// buffer mid-chain (the chain is long enough for that to be visible on any device).
CaseResult cross_stream_event_case(const Device& device) {
  const uint64_t size = 8u << 20;
  const int rounds = 6;
  Buffer x = device.alloc(size);
  Buffer y = device.alloc(size);
  Buffer seen = device.alloc(size);
  Stream a = device.create_stream();
  Stream b = device.create_stream();
  Event done = device.create_event();
  for (int trial = 0; trial < 3; ++trial) {
    const uint32_t final_pattern = 0xc0de0000u + static_cast<uint32_t>(trial);
    b.fill(seen, 0, 4, 0, size);
    b.synchronize();
    for (int r = 0; r < rounds; ++r) {
      a.fill(x, 0x11110000u + static_cast<uint32_t>(r), 4, 0, size);
      a.copy(y, x, size);
      a.copy(x, y, size);
    }
    a.fill(y, final_pattern, 4, 0, size);
    a.copy(x, y, size);
    done.record(a);
    b.wait(done);
    b.copy(seen, x, size);
    const std::vector<uint8_t> got = download(b, seen, 0, size);
    for (uint64_t off = 0; off < size; off += 4) {
      uint32_t v;
      std::memcpy(&v, &got[off], 4);
      if (v != final_pattern)
        return fail("trial " + std::to_string(trial) + ": stream B read byte " +
                    std::to_string(off) + " before stream A's work reached it (0x" +
                    [&] {
                      char s[16];
                      std::snprintf(s, sizeof s, "%08x", v);
                      return std::string(s);
                    }() +
                    ")");
    }
    a.synchronize();
  }
  return pass();
}

CaseResult event_query_sync_case(const Device& device) {
  Event never = device.create_event();
  if (!never.query()) return fail("an event never recorded reports not complete");
  never.synchronize();
  Stream stream = device.create_stream();
  Stream other = device.create_stream();
  other.wait(never);  // waiting on an unrecorded event must not block
  other.synchronize();
  Buffer buffer = device.alloc(4u << 20);
  Event event = device.create_event();
  stream.fill(buffer, 0x12345678u, 4, 0, buffer.size());
  event.record(stream);
  event.synchronize();
  if (!event.query()) return fail("event reports not complete after synchronize");
  stream.synchronize();
  if (!stream.query()) return fail("stream reports pending work after synchronize");
  // Re-recording replaces the capture.
  stream.fill(buffer, 0x9abcdef0u, 4, 0, buffer.size());
  event.record(stream);
  event.synchronize();
  const std::vector<uint8_t> got = download(stream, buffer, 0, 4);
  uint32_t v;
  std::memcpy(&v, got.data(), 4);
  if (v != 0x9abcdef0u) return fail("work captured by a re-recorded event had not finished");
  return pass();
}

CaseResult event_timing_case(const Device& device) {
  const bool timing = (device.properties().flags & XINHE_DEVICE_FLAG_TIMING) != 0;
  Stream stream = device.create_stream();
  Event e0 = device.create_event(), e1 = device.create_event(), e2 = device.create_event();
  Event unrecorded = device.create_event();
  Buffer x = device.alloc(8u << 20), y = device.alloc(8u << 20);
  e0.record(stream);
  stream.fill(x, 0x01010101u, 4, 0, x.size());
  stream.copy(y, x, x.size());
  e1.record(stream);
  for (int i = 0; i < 4; ++i) stream.copy(x, y, x.size()), stream.copy(y, x, x.size());
  e2.record(stream);
  e2.synchronize();
  float ms = -1.0f;
  if (!timing) {
    expect_code(xinhe_event_elapsed_ms(e0.get(), e2.get(), &ms), XINHE_STATUS_UNIMPLEMENTED,
                "elapsed_ms without XINHE_DEVICE_FLAG_TIMING");
    return unsupported("device has no XINHE_DEVICE_FLAG_TIMING (elapsed_ms says UNIMPLEMENTED)");
  }
  const float t01 = e1.elapsed_ms_since(e0);
  const float t02 = e2.elapsed_ms_since(e0);
  const float t12 = e2.elapsed_ms_since(e1);
  if (!(t01 >= 0.0f) || !(t02 >= 0.0f) || !(t12 >= 0.0f))
    return fail("negative or NaN elapsed time: t01 " + std::to_string(t01) + " t02 " +
                std::to_string(t02) + " t12 " + std::to_string(t12));
  if (t02 < t01)
    return fail("not monotonic: t(e0,e2) " + std::to_string(t02) + " < t(e0,e1) " +
                std::to_string(t01));
  expect_code(xinhe_event_elapsed_ms(e0.get(), unrecorded.get(), &ms),
              XINHE_STATUS_FAILED_PRECONDITION, "elapsed_ms to an unrecorded event");
  return pass("t01 " + std::to_string(t01) + " ms, t02 " + std::to_string(t02) + " ms");
}

// Destroying a stream waits for its queued work: the host copy at the end must have landed.
CaseResult stream_destroy_pending_case(const Device& device) {
  Rng rng("runtime.stream_destroy_pending");
  const uint64_t size = 4u << 20;
  const std::vector<uint8_t> data = random_bytes(rng, size);
  std::vector<uint8_t> back(size, 0);
  Buffer a = device.alloc(size), b = device.alloc(size);
  {
    Stream stream = device.create_stream();
    stream.copy_from_host(a, data.data(), size);
    for (int i = 0; i < 4; ++i) stream.copy(b, a, size), stream.copy(a, b, size);
    stream.copy_to_host(back.data(), b, size);
  }  // destroyed with all of that still queued
  if (int64_t at = first_mismatch(back, data); at >= 0)
    return fail("after destroying the stream, host data differs at byte " + std::to_string(at));
  return pass();
}

CaseResult out_of_memory_case(const Device& device) {
  const uint64_t total = device.properties().total_memory;
  const uint64_t sizes[] = {total > (std::numeric_limits<uint64_t>::max() / 4) ? total : total * 2,
                            std::numeric_limits<uint64_t>::max() / 2};
  for (uint64_t size : sizes) {
    xinhe_buffer_t buffer = nullptr;
    expect_code(xinhe_buffer_alloc(device.get(), size, 0, &buffer), XINHE_STATUS_OUT_OF_MEMORY,
                XINHE_STATUS_INVALID_ARGUMENT, "alloc of " + std::to_string(size) + " bytes");
    if (buffer) return fail("failed alloc wrote its output");
  }
  Buffer fine = device.alloc(1u << 20);  // the device still works afterwards
  Stream stream = device.create_stream();
  stream.fill(fine, 7u, 1, 0, fine.size());
  stream.synchronize();
  return pass();
}

CaseResult many_objects_case(const Device& device) {
  Buffer buffer = device.alloc(1u << 16);
  for (int round = 0; round < 3; ++round) {
    std::vector<Stream> streams;
    std::vector<Event> events;
    for (int i = 0; i < 32; ++i) streams.push_back(device.create_stream());
    for (int i = 0; i < 128; ++i) events.push_back(device.create_event());
    for (size_t i = 0; i < events.size(); ++i) {
      const Stream& s = streams[i % streams.size()];
      s.fill(buffer, static_cast<uint32_t>(i), 4, (i % 16) * 4096, 4096);
      events[i].record(s);
      streams[(i + 1) % streams.size()].wait(events[i]);
    }
    // Events are released only once the waits on them are done (the contract leaves
    // destroying an event with waiters pending unspecified); streams go with work queued.
    for (const Stream& s : streams) s.synchronize();
    for (size_t i = 0; i < events.size(); i += 2) events[i].reset();
    // Unordered streams get disjoint ranges: overlapping writes would be a race in the test.
    for (size_t i = 0; i < streams.size(); ++i)
      streams[i].fill(buffer, 0xffu, 1, i * 2048, 2048);
    for (size_t i = 1; i < streams.size(); i += 2) streams[i].reset();
    events.clear();
    streams.clear();
  }
  Stream stream = device.create_stream();
  stream.synchronize();
  return pass();
}

CaseResult invalid_arguments_case(const Device& device) {
  Buffer buffer = device.alloc(1024);
  Buffer other = device.alloc(1024);
  Stream stream = device.create_stream();
  std::vector<uint8_t> host(2048);
  const auto invalid = XINHE_STATUS_INVALID_ARGUMENT;
  expect_code(xinhe_copy_host_to_device(stream.get(), buffer.get(), 1000, host.data(), 100),
              invalid, "host->device past the end");
  expect_code(xinhe_copy_device_to_host(stream.get(), host.data(), buffer.get(), 0, 1025), invalid,
              "device->host larger than the buffer");
  expect_code(xinhe_copy_device_to_device(stream.get(), other.get(), 0, buffer.get(), 1020, 8),
              invalid, "device->device source past the end");
  expect_code(xinhe_copy_device_to_device(stream.get(), buffer.get(), 0, buffer.get(), 100, 200),
              invalid, "device->device overlapping ranges in one buffer");
  // Offsets near 2^64 must not wrap around the bounds check.
  expect_code(xinhe_copy_host_to_device(stream.get(), buffer.get(),
                                        std::numeric_limits<uint64_t>::max() - 8, host.data(), 16),
              invalid, "host->device with an offset that overflows");
  const uint32_t pattern = 1;
  expect_code(xinhe_buffer_fill(stream.get(), buffer.get(), 1020, 8, &pattern, 4), invalid,
              "fill past the end");
  expect_code(xinhe_stream_create(device.get(), nullptr), invalid, "stream_create(out = NULL)");
  stream.synchronize();
  return pass();
}

}  // namespace

void add_runtime_cases(std::vector<Case>& cases) {
  auto add = [&](std::string name, std::function<CaseResult(const Device&)> run) {
    cases.push_back(Case{"runtime", std::move(name), std::move(run)});
  };
  add("properties", properties_case);
  add("alignment.default",
      [](const Device& d) { return alignment_case(d, 0, "runtime.alignment.default"); });
  add("alignment.256",
      [](const Device& d) { return alignment_case(d, 256, "runtime.alignment.256"); });
  add("alignment.4096",
      [](const Device& d) { return alignment_case(d, 4096, "runtime.alignment.4096"); });
  add("zero_size", zero_size_case);
  add("round_trip", round_trip_case);
  add("fill.1byte", [](const Device& d) { return fill_case(d, 1); });
  add("fill.2byte", [](const Device& d) { return fill_case(d, 2); });
  add("fill.4byte", [](const Device& d) { return fill_case(d, 4); });
  add("stream_fifo", stream_fifo_case);
  add("cross_stream_event", cross_stream_event_case);
  add("event_query_sync", event_query_sync_case);
  add("event_timing", event_timing_case);
  add("stream_destroy_pending", stream_destroy_pending_case);
  add("out_of_memory", out_of_memory_case);
  add("many_streams_events", many_objects_case);
  add("invalid_arguments", invalid_arguments_case);
}

}  // namespace xinhe::conformance
