// Checks the core makes on a plugin before trusting it, as pure functions over bytes so that
// they can be fuzzed without loading anything (tests/fuzz/fuzz_plugin_table.cpp):
//
//   check_elf_headers   the file is an ELF shared object for this machine whose program and
//                       section headers lie inside the file (a truncated plugin is refused
//                       here rather than crashing the process with SIGBUS inside dlopen)
//   check_backend_table the table the entry returned: struct_size first, then the header
//                       fields, the name, and the required entries (backend.h); an entry
//                       that struct_size covers only in part counts as absent
//
// Nothing here calls into the plugin or dereferences its function pointers.
#ifndef XINHE_RUNTIME_PLUGIN_CHECKS_H_
#define XINHE_RUNTIME_PLUGIN_CHECKS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "xinhe/backend.h"

namespace xinhe::core {

// Size of the ABI 1.0 table: everything up to and including op_run. Later minors append.
constexpr size_t kApiTableSizeV1_0 =
    offsetof(xinhe_backend_api_t, op_run) + sizeof(xinhe_backend_api_t::op_run);
// struct_size, abi_major, abi_minor and name: what must be there before anything is read.
constexpr size_t kApiTableHeaderSize =
    offsetof(xinhe_backend_api_t, name) + sizeof(xinhe_backend_api_t::name);
// Backend names are short lowercase identifiers used in device names ("opencl:0").
constexpr size_t kMaxBackendNameLength = 32;

// The ELF header and program headers of a file of file_size bytes: header points at its first
// header_size bytes, program_headers at program_headers_size bytes read from e_phoff (may be
// NULL when header_size already covers them). "" when the file may be given to dlopen, else
// why not.
std::string check_elf_headers(const unsigned char* header, size_t header_size,
                              const unsigned char* program_headers, size_t program_headers_size,
                              uint64_t file_size);
// Where the program headers of an ELF header lie: false when the header is too short or the
// table does not fit in 64 bits. Used to read them before check_elf_headers.
bool elf_program_header_range(const unsigned char* header, size_t header_size, uint64_t* offset,
                              uint64_t* size);

// Reads the NUL-terminated string at address into *out (at most max_length characters);
// false when it is not readable or longer. The core reads plugin memory through this.
using StringReader = bool (*)(const char* address, size_t max_length, std::string* out);

struct TableCheck {
  xinhe_status_code_t code = XINHE_STATUS_OK;
  std::string reason;      // why the table is refused; "" when accepted
  uint32_t abi_major = 0;  // valid once the header could be read
  uint32_t abi_minor = 0;
  std::string name;           // valid when accepted
  xinhe_backend_api_t api{};  // the table, normalized: entries not wholly inside
                              // struct_size are NULL
};

// table: table_bytes bytes known to be readable (the plugin's table, or a copy of it).
// Reads nothing past table_bytes nor past the table's own struct_size. True when accepted.
bool check_backend_table(const void* table, size_t table_bytes, StringReader read_name,
                         TableCheck* out);

// True when name is 1..kMaxBackendNameLength characters of [a-z0-9_].
bool is_valid_backend_name(const std::string& name);

}  // namespace xinhe::core

#endif  // XINHE_RUNTIME_PLUGIN_CHECKS_H_
