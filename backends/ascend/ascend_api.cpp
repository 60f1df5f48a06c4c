// Finding and loading CANN's libraries (see ascend_api.h for the search order).
#include "ascend_api.h"

#include <dlfcn.h>

#include <cstdlib>
#include <type_traits>

namespace xinhe::ascend {
namespace {

// The folder the libraries are taken from and how it was chosen, for messages.
struct Folder {
  std::string path;  // "" = the dynamic loader's search
  std::string origin;
};

Folder library_folder() {
  if (const char* dir = std::getenv("XINHE_ASCEND_LIBRARY_DIR"); dir && *dir)
    return {dir, "$XINHE_ASCEND_LIBRARY_DIR"};
  for (const char* var : {"ASCEND_TOOLKIT_HOME", "ASCEND_HOME_PATH"}) {
    if (const char* home = std::getenv(var); home && *home)
      return {std::string(home) + "/lib64", std::string("$") + var + "/lib64"};
  }
  return {"", "the dynamic loader's search path"};
}

void* open_library(const Folder& folder, const char* file, std::string* reason) {
  const std::string path = folder.path.empty() ? file : folder.path + "/" + file;
  dlerror();
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* err = dlerror();
    *reason = std::string(file) + " not found in " + folder.origin + " (CANN not installed?)" +
              (err ? std::string(": ") + err : "");
  }
  return lib;
}

}  // namespace

bool acl_api_load(AclApi* api, std::string* reason) {
  *api = AclApi{};
  const Folder folder = library_folder();
  // Order matters: libopapi and libnnopbase depend on libascendcl.
  void* acl = open_library(folder, "libascendcl.so", reason);
  if (acl == nullptr) return false;
  void* nnopbase = open_library(folder, "libnnopbase.so", reason);
  if (nnopbase == nullptr) {
    dlclose(acl);
    return false;
  }
  void* opapi = open_library(folder, "libopapi.so", reason);
  if (opapi == nullptr) {
    dlclose(nnopbase);
    dlclose(acl);
    return false;
  }
  bool ok = true;
#define XINHE_ASCEND_RESOLVE(lib, file)                                                 \
  [&](auto& slot, const char* name) {                                                   \
    if (!ok) return;                                                                    \
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(dlsym(lib, name)); \
    if (slot == nullptr) {                                                              \
      *reason = std::string(file) + " lacks " + name + " (CANN 8.0 or later needed)";   \
      ok = false;                                                                       \
    }                                                                                   \
  }
  auto from_acl = XINHE_ASCEND_RESOLVE(acl, "libascendcl.so");
  auto from_nnopbase = XINHE_ASCEND_RESOLVE(nnopbase, "libnnopbase.so");
  auto from_opapi = XINHE_ASCEND_RESOLVE(opapi, "libopapi.so");
#undef XINHE_ASCEND_RESOLVE
#define XINHE_ASCEND_FROM_ACL(name) from_acl(api->name, #name);
#define XINHE_ASCEND_FROM_NNOPBASE(name) from_nnopbase(api->name, #name);
#define XINHE_ASCEND_FROM_OPAPI(name) from_opapi(api->name, #name);
  XINHE_ASCENDCL_SYMBOLS(XINHE_ASCEND_FROM_ACL)
  XINHE_NNOPBASE_SYMBOLS(XINHE_ASCEND_FROM_NNOPBASE)
  XINHE_OPAPI_SYMBOLS(XINHE_ASCEND_FROM_OPAPI)
#undef XINHE_ASCEND_FROM_ACL
#undef XINHE_ASCEND_FROM_NNOPBASE
#undef XINHE_ASCEND_FROM_OPAPI
  if (!ok) {
    dlclose(opapi);
    dlclose(nnopbase);
    dlclose(acl);
    *api = AclApi{};
    return false;
  }
  api->folder = folder.path;
  return true;
}

}  // namespace xinhe::ascend
