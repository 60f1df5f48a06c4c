// Every in-tree plugin's entry returns its table whatever host ABI version it is given
// (backend.h, contract point 6): the core compares the versions and names both, while a NULL
// would only say "returned NULL". Opens each libxinhe_backend_*.so of the build tree's plugin
// folder directly, without the registry.
#include <dirent.h>
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "xinhe/backend.h"

namespace {

std::vector<std::string> built_plugins() {
  std::vector<std::string> paths;
  if (DIR* dir = opendir(XINHE_BUILT_PLUGIN_DIR)) {
    while (const dirent* e = readdir(dir)) {
      const std::string name = e->d_name;
      if (name.rfind("libxinhe_backend_", 0) == 0 && name.size() > 3 &&
          name.compare(name.size() - 3, 3, ".so") == 0)
        paths.push_back(std::string(XINHE_BUILT_PLUGIN_DIR) + "/" + name);
    }
    closedir(dir);
  }
  return paths;
}

TEST(PluginEntry, ReturnsTheTableForAnyHostVersion) {
  const std::vector<std::string> plugins = built_plugins();
  if (plugins.empty()) GTEST_SKIP() << "no plugin built in " << XINHE_BUILT_PLUGIN_DIR;
  for (const std::string& path : plugins) {
    SCOPED_TRACE(path);
    void* plugin = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(plugin, nullptr) << dlerror();
    auto entry =
        reinterpret_cast<xinhe_backend_entry_fn>(dlsym(plugin, XINHE_BACKEND_ENTRY_SYMBOL));
    ASSERT_NE(entry, nullptr);
    for (uint32_t major : {0u, XINHE_BACKEND_ABI_MAJOR, XINHE_BACKEND_ABI_MAJOR + 1, 99u}) {
      const xinhe_backend_api_t* table = entry(major, 7);
      ASSERT_NE(table, nullptr) << "host ABI " << major << ".7";
      EXPECT_EQ(table->abi_major, XINHE_BACKEND_ABI_MAJOR);
    }
    dlclose(plugin);
  }
}

}  // namespace
