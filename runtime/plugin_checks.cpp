// Checks on a plugin file and on the table its entry returns (plugin_checks.h).
#include "plugin_checks.h"

#include <elf.h>
#include <link.h>  // ElfW

#include <algorithm>
#include <cstring>

#include "checked_math.h"
#include "text_escape.h"

namespace xinhe::core {
namespace {

using Ehdr = ElfW(Ehdr);
using Phdr = ElfW(Phdr);
using Shdr = ElfW(Shdr);

#if defined(__x86_64__)
constexpr int kHostMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr int kHostMachine = EM_AARCH64;
#elif defined(__powerpc64__)
constexpr int kHostMachine = EM_PPC64;
#elif defined(__riscv)
constexpr int kHostMachine = EM_RISCV;
#else
constexpr int kHostMachine = -1;  // unknown: the machine field is not checked
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr unsigned char kHostData = ELFDATA2LSB;
#else
constexpr unsigned char kHostData = ELFDATA2MSB;
#endif
constexpr unsigned char kHostClass = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;

// [offset, offset + size) lies inside a file of file_size bytes.
bool inside_file(uint64_t offset, uint64_t size, uint64_t file_size) {
  uint64_t end = 0;
  return util::add_ok(offset, size, &end) && end <= file_size;
}

}  // namespace

bool elf_program_header_range(const unsigned char* header, size_t header_size, uint64_t* offset,
                              uint64_t* size) {
  if (header_size < sizeof(Ehdr)) return false;
  Ehdr eh;
  std::memcpy(&eh, header, sizeof(eh));
  *offset = eh.e_phoff;
  return util::mul_ok<uint64_t>(eh.e_phnum, eh.e_phentsize, size);
}

std::string check_elf_headers(const unsigned char* header, size_t header_size,
                              const unsigned char* program_headers, size_t program_headers_size,
                              uint64_t file_size) {
  if (header_size < EI_NIDENT || std::memcmp(header, ELFMAG, SELFMAG) != 0) {
    return "not an ELF file";
  }
  if (header[EI_CLASS] != kHostClass || header[EI_DATA] != kHostData) {
    return "ELF class or byte order of another machine";
  }
  if (header_size < sizeof(Ehdr)) return "truncated ELF header";
  Ehdr eh;
  std::memcpy(&eh, header, sizeof(eh));
  if (eh.e_type != ET_DYN)
    return "not an ELF shared object (e_type " + std::to_string(eh.e_type) + ")";
  if (kHostMachine >= 0 && eh.e_machine != kHostMachine) {
    return "ELF file for another machine (e_machine " + std::to_string(eh.e_machine) + ")";
  }
  if (eh.e_ehsize != sizeof(Ehdr) || eh.e_phentsize != sizeof(Phdr)) {
    return "ELF header sizes do not match this machine";
  }
  if (eh.e_phnum == 0 || eh.e_phnum == PN_XNUM) return "ELF file has no usable program headers";
  const uint64_t table_size = static_cast<uint64_t>(eh.e_phnum) * sizeof(Phdr);
  if (!inside_file(eh.e_phoff, table_size, file_size)) {
    return "program headers lie past the end of the file (truncated?)";
  }
  if (eh.e_shoff != 0) {
    // With more sections than e_shnum can hold, e_shnum is 0 and the count is in section 0.
    const uint64_t sections = eh.e_shnum == 0 ? 1 : eh.e_shnum;
    uint64_t sections_size = 0;
    if (eh.e_shentsize != sizeof(Shdr) ||
        !util::mul_ok<uint64_t>(sections, eh.e_shentsize, &sections_size) ||
        !inside_file(eh.e_shoff, sections_size, file_size)) {
      return "section headers lie past the end of the file (truncated?)";
    }
  }
  // The program headers: from the header buffer when it covers them, else the separate read.
  const unsigned char* table = nullptr;
  if (inside_file(eh.e_phoff, table_size, header_size)) {
    table = header + eh.e_phoff;
  } else if (program_headers != nullptr && program_headers_size >= table_size) {
    table = program_headers;
  } else {
    return "program headers could not be read";
  }
  bool has_load = false, has_dynamic = false;
  for (uint64_t i = 0; i < eh.e_phnum; ++i) {
    Phdr ph;
    std::memcpy(&ph, table + i * sizeof(Phdr), sizeof(ph));
    // Every byte a segment takes from the file must be in the file: dlopen maps them, and a
    // page past the end faults (SIGBUS) on first touch, inside the loader.
    if (ph.p_filesz > 0 && !inside_file(ph.p_offset, ph.p_filesz, file_size)) {
      return "segment " + std::to_string(i) + " (type " + std::to_string(ph.p_type) +
             ") lies past the end of the file (truncated?)";
    }
    if (ph.p_type == PT_LOAD) {
      has_load = true;
      if (ph.p_filesz > ph.p_memsz)
        return "a loadable segment is larger in the file than in memory";
    }
    if (ph.p_type == PT_DYNAMIC) has_dynamic = true;
  }
  if (!has_load || !has_dynamic) return "ELF file has no loadable or no dynamic segment";
  return "";
}

bool is_valid_backend_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxBackendNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool check_backend_table(const void* table, size_t table_bytes, StringReader read_name,
                         TableCheck* out) {
  auto refuse = [out](std::string reason) {
    out->code = XINHE_STATUS_FAILED_PRECONDITION;
    out->reason = std::move(reason);
    return false;
  };
  const auto* bytes = static_cast<const unsigned char*>(table);
  // struct_size is the one field every table has; nothing else is read before it is known.
  size_t struct_size = 0;
  if (table_bytes < sizeof(struct_size)) return refuse("backend table is not readable");
  std::memcpy(&struct_size, bytes, sizeof(struct_size));
  if (struct_size < kApiTableHeaderSize) {
    return refuse("backend table struct_size " + std::to_string(struct_size) +
                  " is smaller than its header (" + std::to_string(kApiTableHeaderSize) +
                  " bytes)");
  }
  const size_t claimed = std::min(struct_size, sizeof(xinhe_backend_api_t));
  if (table_bytes < claimed) {
    return refuse("backend table says struct_size " + std::to_string(struct_size) + " but only " +
                  std::to_string(table_bytes) + " bytes of it are readable");
  }
  std::memcpy(&out->abi_major, bytes + offsetof(xinhe_backend_api_t, abi_major),
              sizeof(out->abi_major));
  std::memcpy(&out->abi_minor, bytes + offsetof(xinhe_backend_api_t, abi_minor),
              sizeof(out->abi_minor));
  if (out->abi_major != XINHE_BACKEND_ABI_MAJOR) {
    return refuse("plugin ABI " + std::to_string(out->abi_major) + "." +
                  std::to_string(out->abi_minor) + ", core supports " +
                  std::to_string(XINHE_BACKEND_ABI_MAJOR) + ".x");
  }
  if (struct_size < kApiTableSizeV1_0) {
    return refuse("backend table struct_size " + std::to_string(struct_size) +
                  " is smaller than the ABI 1.0 table (" + std::to_string(kApiTableSizeV1_0) +
                  " bytes)");
  }
  // Copy the entries the plugin has; those past its struct_size stay NULL (absent optional).
  // An entry is there only when struct_size covers all of it (XINHE_STRUCT_HAS): a size ending
  // inside a pointer leaves that entry out, since calling half a pointer crashes.
  static_assert(kApiTableHeaderSize % sizeof(void (*)()) == 0 &&
                    (sizeof(xinhe_backend_api_t) - kApiTableHeaderSize) % sizeof(void (*)()) == 0,
                "every field after the table's header is one function pointer");
  const size_t used = claimed - (claimed - kApiTableHeaderSize) % sizeof(void (*)());
  std::memset(&out->api, 0, sizeof(out->api));
  std::memcpy(&out->api, bytes, used);
  out->api.struct_size = sizeof(out->api);
  const xinhe_backend_api_t& api = out->api;

  if (api.name == nullptr) return refuse("backend table has no name");
  std::string name;
  if (!read_name(api.name, kMaxBackendNameLength, &name)) {
    return refuse("backend name is not readable or longer than " +
                  std::to_string(kMaxBackendNameLength) + " characters");
  }
  if (name.empty()) return refuse("backend table has no name");
  if (!is_valid_backend_name(name)) {
    return refuse("backend name '" + util::escape_for_display(name) + "' is not 1-" +
                  std::to_string(kMaxBackendNameLength) + " characters of [a-z0-9_]");
  }

#define XH_REQUIRED(entry) \
  if (api.entry == nullptr) return refuse("missing required entry '" #entry "'");
  XH_REQUIRED(backend_create)
  XH_REQUIRED(backend_destroy)
  XH_REQUIRED(device_count)
  XH_REQUIRED(device_open)
  XH_REQUIRED(device_close)
  XH_REQUIRED(device_properties)
  XH_REQUIRED(buffer_alloc)
  XH_REQUIRED(buffer_free)
  XH_REQUIRED(stream_create)
  XH_REQUIRED(stream_destroy)
  XH_REQUIRED(stream_synchronize)
  XH_REQUIRED(copy_host_to_device)
  XH_REQUIRED(copy_device_to_host)
  XH_REQUIRED(copy_device_to_device)
  XH_REQUIRED(fill)
  XH_REQUIRED(event_create)
  XH_REQUIRED(event_destroy)
  XH_REQUIRED(event_record)
  XH_REQUIRED(stream_wait_event)
  XH_REQUIRED(event_synchronize)
  XH_REQUIRED(op_create)
  XH_REQUIRED(op_destroy)
  XH_REQUIRED(op_check)
  XH_REQUIRED(op_run)
#undef XH_REQUIRED

  out->name = std::move(name);
  out->code = XINHE_STATUS_OK;
  out->reason.clear();
  return true;
}

}  // namespace xinhe::core
