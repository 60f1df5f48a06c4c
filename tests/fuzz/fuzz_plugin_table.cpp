// libFuzzer target: the checks the core makes on a plugin before trusting it
// (runtime/plugin_checks.h), on bytes instead of a loaded plugin.
//
// First byte even: the rest is a backend table of exactly that many bytes (an exact-size heap
// copy, so reading a field the table does not have is an ASan report). Its name pointer, when
// the table is long enough to hold one, is pointed at a name taken from the input or set to
// NULL. check_backend_table must refuse tables shorter than their header or their struct_size,
// and everything it accepts must have a valid name, ABI major 1 and every required entry.
// First byte odd: the rest is an ELF file image for check_elf_headers; what it accepts must
// have every segment inside the file.
#include <elf.h>
#include <link.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "plugin_checks.h"

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what);
  std::abort();
}

// The name buffer of the current input: the table's name pointer is aimed at it.
std::vector<char> g_name;

bool read_test_name(const char* address, size_t max_length, std::string* out) {
  if (address != g_name.data()) finding("check_backend_table read a name it was not given");
  out->clear();
  for (size_t i = 0; i < g_name.size() && i <= max_length; ++i) {
    if (g_name[i] == '\0') return true;
    out->push_back(g_name[i]);
  }
  return false;
}

void fuzz_table(const uint8_t* data, size_t size) {
  using xinhe::core::TableCheck;
  // Input: [name length][name bytes][table bytes]
  const size_t name_length = size > 0 ? data[0] % 48 : 0;
  const size_t take = name_length < size - (size > 0) ? name_length : 0;
  const char* name_bytes = reinterpret_cast<const char*>(data) + (size > 0);
  g_name.assign(name_bytes, name_bytes + take);
  g_name.push_back('\0');
  const uint8_t* table_bytes = data + (size > 0) + take;
  const size_t table_size = size - (size > 0) - take;
  std::vector<unsigned char> table(table_bytes, table_bytes + table_size);
  constexpr size_t kNameAt = offsetof(xinhe_backend_api_t, name);
  if (table.size() >= kNameAt + sizeof(void*)) {
    const char* name = (table_size % 5 == 0) ? nullptr : g_name.data();
    std::memcpy(table.data() + kNameAt, &name, sizeof(name));
  }
  TableCheck check;
  const bool accepted =
      xinhe::core::check_backend_table(table.data(), table.size(), read_test_name, &check);
  if (!accepted) {
    if (check.reason.empty() || check.code == XINHE_STATUS_OK) finding("refusal without reason");
    return;
  }
  size_t struct_size = 0;
  std::memcpy(&struct_size, table.data(), sizeof(struct_size));
  if (struct_size < xinhe::core::kApiTableSizeV1_0) finding("accepted a table below ABI 1.0");
  if (table.size() < std::min(struct_size, sizeof(xinhe_backend_api_t))) {
    finding("accepted a table shorter than its struct_size");
  }
  if (check.abi_major != XINHE_BACKEND_ABI_MAJOR) finding("accepted another ABI major");
  if (!xinhe::core::is_valid_backend_name(check.name)) finding("accepted an invalid name");
  if (check.api.op_run == nullptr || check.api.backend_create == nullptr) {
    finding("accepted a table without required entries");
  }
}

void fuzz_elf(const uint8_t* data, size_t size) {
  std::vector<unsigned char> file(data, data + size);
  const size_t header_size = size < 4096 ? size : 4096;
  uint64_t ph_offset = 0, ph_size = 0;
  std::vector<unsigned char> program_headers;
  if (xinhe::core::elf_program_header_range(file.data(), header_size, &ph_offset, &ph_size) &&
      ph_offset <= size && ph_size <= size - ph_offset) {
    program_headers.assign(file.begin() + ph_offset, file.begin() + ph_offset + ph_size);
  }
  const std::string why = xinhe::core::check_elf_headers(
      file.data(), header_size, program_headers.empty() ? nullptr : program_headers.data(),
      program_headers.size(), size);
  if (!why.empty()) return;
  // Accepted: re-check the one property that matters, every segment inside the file.
  ElfW(Ehdr) eh;
  std::memcpy(&eh, file.data(), sizeof(eh));
  for (size_t i = 0; i < eh.e_phnum; ++i) {
    ElfW(Phdr) ph;
    std::memcpy(&ph, file.data() + eh.e_phoff + i * sizeof(ph), sizeof(ph));
    if (ph.p_filesz > 0 && (ph.p_offset > size || ph.p_filesz > size - ph.p_offset)) {
      finding("accepted an ELF file with a segment past its end");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] % 2 == 0) {
    fuzz_table(data + 1, size - 1);
  } else {
    fuzz_elf(data + 1, size - 1);
  }
  return 0;
}
