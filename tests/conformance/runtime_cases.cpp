// Runtime semantics cases: properties, buffers, copies, fills, stream order, events, timing,
// destruction with pending work, out-of-memory and bad arguments. Each case observes behaviour
// only through the public API, so it means the same on every backend.
#include <algorithm>
#include <chrono>
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
  Device again = Device::get(device.name());
  if (again.get() != device.get()) return fail("xinhe_device_get_by_name returns another device");
  // A device that claims no dtype runs no op (a backend being ported, such as backends/null):
  // allowed, and said here, since every op case then reports UNSUPPORTED.
  const std::string no_ops =
      p.dtype_caps == 0 ? " (dtype_caps empty: the device claims no op; op cases UNSUPPORTED)" : "";
  // UNKNOWN is allowed (backends older than the field) but keeps the device from being the
  // default: said here, as is a type from a newer header, which the core read as UNKNOWN.
  const std::string type =
      p.device_type == XINHE_DEVICE_TYPE_UNKNOWN
          ? " / type unknown (device_type not reported, or newer than this core: the device is "
            "never the default)"
          : std::string(" / ") +
                xinhe_device_type_name(static_cast<xinhe_device_type_t>(p.device_type));
  return pass(std::string(p.description) + " / " + p.vendor + " / " + p.driver_version + type +
              no_ops);
}

// Alignment is checked where the device exposes buffer addresses (xinhe_buffer_address): every
// buffer, of several sizes so one lucky allocation cannot pass, must start at a multiple of
// max(alignment, min_alignment). A device may decline an alignment above its min_alignment
// (UNIMPLEMENTED or OUT_OF_MEMORY with a reason: UNSUPPORTED), never ignore it. Where addresses
// are opaque (OpenCL) only the contract around alignment is checked: the buffer works at its
// full size and a request that is not a power of two is rejected.
CaseResult alignment_case(const Device& device, uint64_t alignment, const std::string& name) {
  Rng rng(name);
  const uint64_t min_alignment = device.properties().min_alignment;
  const uint64_t want = std::max(alignment, min_alignment);
  std::vector<Buffer> buffers;
  std::string addresses;
  bool observable = true;
  for (const uint64_t size : {uint64_t{1}, uint64_t{13}, uint64_t{4096 + 13}, uint64_t{65536 + 7},
                              uint64_t{3}, uint64_t{1000}}) {
    xinhe_buffer_t raw = nullptr;
    std::string message;
    const xinhe_status_code_t code =
        take_status(xinhe_buffer_alloc(device.get(), size, alignment, &raw), &message);
    if (code != XINHE_STATUS_OK) {
      if (raw != nullptr) return fail("a failed alloc wrote its output");
      if (alignment > min_alignment &&
          (code == XINHE_STATUS_UNIMPLEMENTED || code == XINHE_STATUS_OUT_OF_MEMORY) &&
          !message.empty())
        return unsupported("the device declines alignment " + std::to_string(alignment) + ": " +
                           message);
      return fail("alloc of " + std::to_string(size) + " bytes aligned to " +
                  std::to_string(alignment) + " (min_alignment " + std::to_string(min_alignment) +
                  ") returned " + xinhe_status_code_name(code) + ": " + message);
    }
    buffers.emplace_back(raw);
    uint64_t address = 0;
    const xinhe_status_code_t address_code =
        take_status(xinhe_buffer_address(raw, &address), &message);
    if (address_code == XINHE_STATUS_UNIMPLEMENTED) {
      if (message.empty()) return fail("buffer_address said UNIMPLEMENTED without a reason");
      observable = false;
      continue;
    }
    if (address_code != XINHE_STATUS_OK)
      return fail(std::string("buffer_address returned ") + xinhe_status_code_name(address_code) +
                  ": " + message);
    char text[32];
    std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(address));
    if (address % want != 0)
      return fail("a " + std::to_string(size) + "-byte buffer starts at " + text +
                  ", not a multiple of " + std::to_string(want) + " (requested " +
                  std::to_string(alignment) + ", min_alignment " + std::to_string(min_alignment) +
                  ")");
    addresses += std::string(addresses.empty() ? "" : " ") + text;
  }
  Buffer& buffer = buffers[3];
  const uint64_t size = buffer.size();
  if (size != 65536 + 7) return fail("buffer_size " + std::to_string(size) + " != 65543");
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
  return pass("min_alignment " + std::to_string(min_alignment) +
              (observable
                   ? ", every address a multiple of " + std::to_string(want) + ": " + addresses
                   : ", addresses not observable on this device"));
}

// No device can place a buffer at a multiple of 2^62 (or 2^63): the request must fail, not
// come back with an ordinarily aligned buffer.
CaseResult unhonourable_alignment_case(const Device& device) {
  for (const uint64_t alignment : {uint64_t{1} << 62, uint64_t{1} << 63}) {
    xinhe_buffer_t buffer = nullptr;
    std::string message;
    const xinhe_status_code_t code =
        take_status(xinhe_buffer_alloc(device.get(), 4096, alignment, &buffer), &message);
    if (code == XINHE_STATUS_OK) {
      xinhe_buffer_free(buffer);
      return fail("alloc aligned to 2^" +
                  std::to_string(alignment == (uint64_t{1} << 62) ? 62 : 63) +
                  " returned OK: an alignment that cannot be honoured must be an error");
    }
    if (buffer != nullptr) return fail("a failed alloc wrote its output");
    if (code != XINHE_STATUS_UNIMPLEMENTED && code != XINHE_STATUS_OUT_OF_MEMORY)
      return fail(std::string("alloc aligned to 2^62 returned ") + xinhe_status_code_name(code) +
                  " (want UNIMPLEMENTED or OUT_OF_MEMORY): " + message);
    if (message.empty()) return fail("alloc aligned to 2^62 failed without a reason");
  }
  return pass();
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

// Copies of sub-ranges at odd offsets on both sides (host to device, device to device, device
// to host), each into a destination whose other bytes are random: the range must arrive, and
// every byte before and after it (in the device buffer, or in the host array around the
// destination) must be unchanged. Sizes are not multiples of 4, 16 or 64, so a copy that moves
// whole words or bursts past the range's end, or drops either offset, changes a byte it must not.
CaseResult copy_sub_ranges_case(const Device& device) {
  Rng rng("runtime.copy_sub_ranges");
  const uint64_t size = 8192;
  Buffer src = device.alloc(size), dst = device.alloc(size);
  Stream stream = device.create_stream();
  const std::vector<uint8_t> src_data = random_bytes(rng, size);
  std::vector<uint8_t> want = random_bytes(rng, size);
  stream.copy_from_host(src, src_data.data(), size);
  stream.copy_from_host(dst, want.data(), size);
  // `want` is updated below while it is still a queued copy's source otherwise (runtime.h:
  // host memory must stay valid until the stream reaches the copy).
  stream.synchronize();
  // {source offset, destination offset, bytes}
  const uint64_t ranges[][3] = {{0, 3, 1},       {5, 64, 63}, {29, 71, 1001},
                                {4093, 1, 4099}, {77, 0, 65}, {8191, 8190, 1}};
  constexpr uint64_t guard = 67;  // host bytes either side of a device->host copy
  for (const auto& r : ranges) {
    const std::string what = std::to_string(r[2]) + " bytes from offset " + std::to_string(r[0]) +
                             " to offset " + std::to_string(r[1]);
    // Host to device: from src_data at r[0] into dst at r[1].
    stream.copy_from_host(dst, src_data.data() + r[0], r[2], r[1]);
    std::memcpy(&want[r[1]], &src_data[r[0]], r[2]);
    if (int64_t at = first_mismatch(download(stream, dst, 0, size), want); at >= 0)
      return fail("host->device copy of " + what + ": destination byte " + std::to_string(at) +
                  (static_cast<uint64_t>(at) < r[1] || static_cast<uint64_t>(at) >= r[1] + r[2]
                       ? " outside the range changed"
                       : " is wrong"));
    // Device to device: the range of src at r[0] into dst at the mirrored offset.
    const uint64_t dst_off = size - r[1] - r[2];
    stream.copy(dst, src, r[2], dst_off, r[0]);
    std::memcpy(&want[dst_off], &src_data[r[0]], r[2]);
    if (int64_t at = first_mismatch(download(stream, dst, 0, size), want); at >= 0)
      return fail(
          "device->device copy of " + std::to_string(r[2]) + " bytes from offset " +
          std::to_string(r[0]) + " to offset " + std::to_string(dst_off) + ": destination byte " +
          std::to_string(at) +
          (static_cast<uint64_t>(at) < dst_off || static_cast<uint64_t>(at) >= dst_off + r[2]
               ? " outside the range changed"
               : " is wrong"));
    // Device to host: the range of src at r[0] into the middle of a random host array.
    std::vector<uint8_t> host = random_bytes(rng, r[2] + 2 * guard);
    std::vector<uint8_t> host_want = host;
    std::memcpy(&host_want[guard], &src_data[r[0]], r[2]);
    stream.copy_to_host(host.data() + guard, src, r[2], r[0]);
    stream.synchronize();
    if (int64_t at = first_mismatch(host, host_want); at >= 0)
      return fail("device->host copy of " + std::to_string(r[2]) + " bytes from offset " +
                  std::to_string(r[0]) + ": host byte " +
                  std::to_string(at - static_cast<int64_t>(guard)) +
                  " relative to the destination " +
                  (static_cast<uint64_t>(at) < guard || static_cast<uint64_t>(at) >= guard + r[2]
                       ? "outside the range changed"
                       : "is wrong"));
  }
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
  stream.synchronize();  // `want` is rewritten below: not while a queued copy reads it
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

// Queues on a a long chain of dependent work over x and y (size bytes each) that leaves x full
// of final_pattern; the rounds fill other patterns first, so a reader that does not wait for
// the chain sees one of them (the chain is long enough for that on any device).
void queue_chain(const Stream& a, Buffer& x, Buffer& y, uint64_t size, uint32_t round_pattern,
                 uint32_t final_pattern) {
  for (int r = 0; r < 6; ++r) {
    a.fill(x, round_pattern + static_cast<uint32_t>(r), 4, 0, size);
    a.copy(y, x, size);
    a.copy(x, y, size);
  }
  a.fill(y, final_pattern, 4, 0, size);
  a.copy(x, y, size);
}

// The byte offset of the first 32-bit word of got that is not want (its value in *seen), or -1.
int64_t first_word_not(const std::vector<uint8_t>& got, uint32_t want, uint32_t* seen) {
  for (uint64_t off = 0; off + 4 <= got.size(); off += 4) {
    std::memcpy(seen, &got[off], 4);
    if (*seen != want) return static_cast<int64_t>(off);
  }
  return -1;
}

std::string hex32(uint32_t v) {
  char s[16];
  std::snprintf(s, sizeof s, "%08x", v);
  return s;
}

// Stream A does a long chain of dependent work ending in a known pattern; stream B waits on
// an event recorded after it and copies the result. Without the wait, B would read the
// buffer mid-chain.
CaseResult cross_stream_event_case(const Device& device) {
  const uint64_t size = 8u << 20;
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
    queue_chain(a, x, y, size, 0x11110000u, final_pattern);
    done.record(a);
    b.wait(done);
    b.copy(seen, x, size);
    uint32_t v = 0;
    if (const int64_t off = first_word_not(download(b, seen, 0, size), final_pattern, &v); off >= 0)
      return fail("trial " + std::to_string(trial) + ": stream B read byte " + std::to_string(off) +
                  " before stream A's work reached it (0x" + hex32(v) + ")");
    a.synchronize();
  }
  return pass();
}

// runtime.h: work submitted after xinhe_stream_wait_event waits for the event's captured
// work; re-recording the event later (here on an idle third stream, which completes at once)
// changes what later calls capture, not what that wait waits for. cpu:0 kept one counter per
// event and released the wait when the newer record completed.
CaseResult rerecorded_event_wait_case(const Device& device) {
  const uint64_t size = 8u << 20;
  Buffer x = device.alloc(size), y = device.alloc(size), seen = device.alloc(size);
  Stream a = device.create_stream(), b = device.create_stream(), c = device.create_stream();
  Event done = device.create_event();
  for (int trial = 0; trial < 3; ++trial) {
    const uint32_t final_pattern = 0xbeef0000u + static_cast<uint32_t>(trial);
    b.fill(seen, 0, 4, 0, size);
    b.synchronize();
    queue_chain(a, x, y, size, 0x22220000u, final_pattern);
    done.record(a);
    b.wait(done);
    done.record(c);  // c is idle: this capture completes at once
    b.copy(seen, x, size);
    uint32_t v = 0;
    if (const int64_t off = first_word_not(download(b, seen, 0, size), final_pattern, &v); off >= 0)
      return fail("trial " + std::to_string(trial) + ": stream B read byte " + std::to_string(off) +
                  " (0x" + hex32(v) +
                  ") before stream A's work reached it: its wait was released when the event, "
                  "re-recorded on an idle stream, completed");
    a.synchronize();
    c.synchronize();
  }
  return pass();
}

// runtime.h: stream_query says done when all submitted work has finished. After synchronizing
// an event recorded last on the stream, nothing is left: the query must say so at once and on
// every later call (PoCL's stream read "not done" query after query: each queued a fresh
// marker and asked it before the device had reached it).
CaseResult query_after_event_sync_case(const Device& device) {
  Buffer x = device.alloc(1u << 20);
  Stream s = device.create_stream();
  for (int trial = 0; trial < 5; ++trial) {
    Event e = device.create_event();
    s.fill(x, 0x01020304u + static_cast<uint32_t>(trial), 4, 0, x.size());
    e.record(s);
    e.synchronize();
    for (int q = 0; q < 3; ++q) {
      if (!s.query())
        return fail("trial " + std::to_string(trial) + ": stream_query #" + std::to_string(q + 1) +
                    " says not done after the stream's last work, an event, was synchronized");
    }
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

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Enqueues `rounds` round trips of two device-to-device copies of x.size() bytes: work whose
// length the host can scale.
void enqueue_copies(const Stream& stream, Buffer& x, Buffer& y, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    stream.copy(y, x, x.size());
    stream.copy(x, y, x.size());
  }
}

// Elapsed time between events is non-negative, monotonic, and plausible against a host clock:
// no longer than the host waited for the work, and not 0 (or a tiny fraction of it) when the
// work took tens of milliseconds. The work doubles until it takes at least 30 ms on the host.
CaseResult event_timing_case(const Device& device) {
  const bool timing = (device.properties().flags & XINHE_DEVICE_FLAG_TIMING) != 0;
  Stream stream = device.create_stream();
  Event e0 = device.create_event(), e1 = device.create_event(), e2 = device.create_event();
  Event unrecorded = device.create_event();
  Buffer x = device.alloc(8u << 20), y = device.alloc(8u << 20);
  stream.fill(x, 0x01010101u, 4, 0, x.size());
  stream.synchronize();
  float ms = -1.0f;
  if (!timing) {
    e0.record(stream);
    e0.synchronize();
    expect_code(xinhe_event_elapsed_ms(e0.get(), e0.get(), &ms), XINHE_STATUS_UNIMPLEMENTED,
                "elapsed_ms without XINHE_DEVICE_FLAG_TIMING");
    return unsupported("device has no XINHE_DEVICE_FLAG_TIMING (elapsed_ms says UNIMPLEMENTED)");
  }
  double host_ms = 0.0;
  float t01 = 0.0f, t02 = 0.0f, t12 = 0.0f;
  for (int rounds = 2; rounds <= 4096; rounds *= 2) {
    const Clock::time_point start = Clock::now();
    e0.record(stream);
    enqueue_copies(stream, x, y, rounds);
    e1.record(stream);
    enqueue_copies(stream, x, y, rounds);
    e2.record(stream);
    e2.synchronize();
    host_ms = ms_since(start);
    t01 = e1.elapsed_ms_since(e0);
    t02 = e2.elapsed_ms_since(e0);
    t12 = e2.elapsed_ms_since(e1);
    if (host_ms >= 30.0) break;
  }
  const std::string times = "t01 " + num(t01) + " ms, t02 " + num(t02) + " ms, t12 " + num(t12) +
                            " ms, host " + num(host_ms) + " ms";
  if (!(t01 >= 0.0f) || !(t02 >= 0.0f) || !(t12 >= 0.0f))
    return fail("negative or NaN elapsed time: " + times);
  if (t02 < t01 || t02 < t12) return fail("not monotonic: " + times);
  if (host_ms >= 30.0) {
    // The device cannot have worked longer than the host waited for it (plus clock slack), and
    // work the host saw take 30 ms or more cannot have taken no time.
    if (t02 > host_ms * 1.1 + 2.0)
      return fail("elapsed time longer than the host waited: " + times);
    if (!(t02 > 0.0f) || t02 < host_ms * 0.05)
      return fail("elapsed time implausibly short for work the host waited on: " + times);
  }
  expect_code(xinhe_event_elapsed_ms(e0.get(), unrecorded.get(), &ms),
              XINHE_STATUS_FAILED_PRECONDITION, "elapsed_ms to an unrecorded event");
  return pass(times);
}

// Stream and event queries reflect real progress: right after enqueueing long work they may
// say "done" only if the work really is done, which synchronize then proves by returning at
// once. The work doubles until some query sees it pending (or a device is so fast that 4 GiB of
// copies are done before the query, in which case nothing can be concluded).
CaseResult query_progress_case(const Device& device) {
  Stream stream = device.create_stream();
  Buffer x = device.alloc(16u << 20), y = device.alloc(16u << 20);
  stream.fill(x, 0x5a5a5a5au, 4, 0, x.size());
  stream.synchronize();
  Event event = device.create_event();
  bool stream_pending = false, event_pending = false;
  std::string note;
  for (int rounds = 1; rounds <= 128 && !(stream_pending && event_pending); rounds *= 2) {
    enqueue_copies(stream, x, y, rounds);
    event.record(stream);
    const bool stream_done = stream.query();
    const bool event_done = event.query();
    const Clock::time_point start = Clock::now();
    stream.synchronize();
    const double sync_ms = ms_since(start);
    // 20 ms is far above any wake-up latency: the work was still running at the query.
    if (stream_done && sync_ms > 20.0)
      return fail("stream_query said done, but synchronize then waited " + num(sync_ms) +
                  " ms for the work");
    if (event_done && sync_ms > 20.0)
      return fail("event_query said done, but the work it captured took " + num(sync_ms) +
                  " ms more");
    stream_pending = stream_pending || !stream_done;
    event_pending = event_pending || !event_done;
    if (!stream.query()) return fail("stream_query says pending after synchronize");
    if (!event.query()) return fail("event_query says pending after its stream synchronized");
    note =
        std::to_string(rounds) + " copy round trips of 16 MiB, synchronize " + num(sync_ms) + " ms";
  }
  if (!stream_pending || !event_pending)
    return pass("the work finished before every query (" + note + "): nothing to conclude");
  return pass("pending work seen by stream and event queries (" + note + ")");
}

// xinhe_stream_wait_event with another device's event: the stream's later work is ordered
// after that event's work (runtime.h: the host waits). Data crosses through host memory: the
// peer writes it to host memory, this device's stream reads it after the wait.
CaseResult cross_device_wait_case(const Device& device) {
  std::vector<Device> others;
  for (const Device& d : Device::all())
    if (d.get() != device.get()) others.push_back(d);
  if (others.empty()) return unsupported("no second device to order against");
  // Prefer the CPU as the peer: always present and independent of this device's driver.
  Device peer = others.front();
  for (const Device& d : others)
    if (d.name() == "cpu:0") peer = d;
  const uint64_t size = 4u << 20;
  std::vector<uint8_t> host(size, 0);
  Buffer px = peer.alloc(size), py = peer.alloc(size), mine = device.alloc(size);
  Stream ps = peer.create_stream(), stream = device.create_stream();
  Event peer_done = peer.create_event(), never = peer.create_event();
  stream.wait(never);  // another device's unrecorded event: complete, returns at once
  for (int trial = 0; trial < 2; ++trial) {
    const uint32_t pattern = 0x7e570000u + static_cast<uint32_t>(trial);
    for (int r = 0; r < 8; ++r) {
      ps.fill(px, 0x10000000u + static_cast<uint32_t>(r), 4, 0, size);
      ps.copy(py, px, size);
    }
    ps.fill(px, pattern, 4, 0, size);
    ps.copy_to_host(host.data(), px, size);
    peer_done.record(ps);
    stream.wait(peer_done);  // blocks the host until the peer's copy to host has landed
    stream.copy_from_host(mine, host.data(), size);
    const std::vector<uint8_t> got = download(stream, mine, 0, size);
    for (uint64_t off = 0; off < size; off += 4) {
      uint32_t v;
      std::memcpy(&v, &got[off], 4);
      if (v != pattern)
        return fail("trial " + std::to_string(trial) + ": " + device.name() + " read byte " +
                    std::to_string(off) + " of the peer's (" + peer.name() +
                    ") result before the event it waited on completed");
    }
    ps.synchronize();
  }
  return pass("ordered after events of " + peer.name());
}

// An event stays valid after the stream it was recorded on is destroyed (runtime.h).
CaseResult event_outlives_stream_case(const Device& device) {
  const bool timing = (device.properties().flags & XINHE_DEVICE_FLAG_TIMING) != 0;
  Event start = device.create_event(), end = device.create_event();
  Buffer x = device.alloc(4u << 20), y = device.alloc(4u << 20);
  {
    Stream stream = device.create_stream();
    start.record(stream);
    stream.fill(x, 0x0badf00du, 4, 0, x.size());
    enqueue_copies(stream, x, y, 4);
    end.record(stream);
  }  // destroyed with the work queued: it waits for it
  if (!end.query()) return fail("event recorded on a destroyed stream reports pending work");
  end.synchronize();
  Stream other = device.create_stream();
  other.wait(end);
  other.synchronize();
  if (timing) {
    const float ms = end.elapsed_ms_since(start);
    if (!(ms >= 0.0f)) return fail("elapsed time after the stream's destruction is " + num(ms));
  }
  const std::vector<uint8_t> got = download(other, y, 0, 4);
  uint32_t v;
  std::memcpy(&v, got.data(), 4);
  if (v != 0x0badf00du) return fail("the destroyed stream's work did not complete");
  return pass();
}

// Getters without a status accept NULL and unknown values (base.h).
CaseResult null_getters_case(const Device&) {
  if (std::string(xinhe_device_name(nullptr)) != "")
    return fail("xinhe_device_name(NULL) is not \"\"");
  if (xinhe_buffer_size(nullptr) != 0) return fail("xinhe_buffer_size(NULL) is not 0");
  if (xinhe_buffer_device(nullptr) != nullptr) return fail("xinhe_buffer_device(NULL) is not NULL");
  if (xinhe_stream_device(nullptr) != nullptr) return fail("xinhe_stream_device(NULL) is not NULL");
  if (std::string(xinhe_gemm_impl_name(nullptr)) != "" ||
      std::string(xinhe_attention_impl_name(nullptr)) != "")
    return fail("xinhe_*_impl_name(NULL) is not \"\"");
  if (xinhe_status_code(nullptr) != XINHE_STATUS_OK ||
      std::string(xinhe_status_message(nullptr)) != "" ||
      std::string(xinhe_status_backend(nullptr)) != "" ||
      std::string(xinhe_status_call(nullptr)) != "" ||
      std::string(xinhe_status_file(nullptr)) != "" || xinhe_status_line(nullptr) != 0)
    return fail("a xinhe_status_* accessor of NULL is not OK / \"\" / 0");
  if (xinhe_dtype_size(static_cast<xinhe_dtype_t>(77)) != 0 ||
      std::string(xinhe_dtype_name(static_cast<xinhe_dtype_t>(77))) != "?")
    return fail("an unknown dtype does not give size 0 and name \"?\"");
  if (std::string(xinhe_status_code_name(static_cast<xinhe_status_code_t>(99))) != "UNKNOWN")
    return fail("an unknown status code is not named \"UNKNOWN\"");
  xinhe_stream_destroy(nullptr);
  xinhe_event_destroy(nullptr);
  xinhe_buffer_free(nullptr);
  xinhe_gemm_destroy(nullptr);
  xinhe_attention_destroy(nullptr);
  xinhe_status_free(nullptr);
  xinhe_attention_strides_bhsd(4, 8, 64, nullptr);
  int64_t strides[4] = {0, 0, 0, 0};
  xinhe_attention_strides_bshd(int64_t{1} << 40, int64_t{1} << 40, 64, strides);
  // ops.h: a stride that would overflow int64 is INT64_MAX; the others are exact.
  if (strides[0] != INT64_MAX || strides[1] != 64 || strides[2] != int64_t{1} << 46 ||
      strides[3] != 1)
    return fail("overflowing strides do not saturate at INT64_MAX (ops.h)");
  uint64_t address = 7;
  expect_code(xinhe_buffer_address(nullptr, &address), XINHE_STATUS_INVALID_ARGUMENT,
              "buffer_address(NULL)");
  if (address != 7) return fail("a failed buffer_address wrote its output");
  return pass();
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
  add("alignment.65536",
      [](const Device& d) { return alignment_case(d, 65536, "runtime.alignment.65536"); });
  add("alignment.unhonourable", unhonourable_alignment_case);
  add("zero_size", zero_size_case);
  add("round_trip", round_trip_case);
  add("copy_sub_ranges", copy_sub_ranges_case);
  add("fill.1byte", [](const Device& d) { return fill_case(d, 1); });
  add("fill.2byte", [](const Device& d) { return fill_case(d, 2); });
  add("fill.4byte", [](const Device& d) { return fill_case(d, 4); });
  add("stream_fifo", stream_fifo_case);
  add("cross_stream_event", cross_stream_event_case);
  add("event_query_sync", event_query_sync_case);
  add("event_timing", event_timing_case);
  add("query_progress", query_progress_case);
  add("rerecorded_event_wait", rerecorded_event_wait_case);
  add("query_after_event_sync", query_after_event_sync_case);
  add("cross_device_wait", cross_device_wait_case);
  add("event_outlives_stream", event_outlives_stream_case);
  add("null_getters", null_getters_case);
  add("stream_destroy_pending", stream_destroy_pending_case);
  add("out_of_memory", out_of_memory_case);
  add("many_streams_events", many_objects_case);
  add("invalid_arguments", invalid_arguments_case);
}

}  // namespace xinhe::conformance
