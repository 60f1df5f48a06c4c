// Hostile files, plugins and environment values (issue 16): every case runs the program that
// meets them (xinhe_hostile_child, xinhe-info, the OpenCL cache probe) as a child process
// under a watchdog, so a hang or a crash fails one test instead of the suite. Each case says
// which input it builds and what must hold: the child finishes, exits 0, and the input is
// reported (reason, warning) or rebuilt rather than trusted.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.h"

namespace {

namespace fs = std::filesystem;
using xinhe_hostile::ChildResult;
using xinhe_hostile::run_child;
using Env = std::map<std::string, std::optional<std::string>>;

constexpr int kWatchdogSeconds = 90;  // generous for the sanitizer build on a loaded machine

// A fresh folder under /tmp, removed with everything in it (permissions restored first).
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/xinhe-hostile-XXXXXX";
    path_ = mkdtemp(tmpl) != nullptr ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    chmod(path_.c_str(), 0700);
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string plugin_of(const char* variant) {
  return std::string(XINHE_HOSTILE_PLUGIN_DIR) + "/" + variant + "/libxinhe_backend_" + variant +
         ".so";
}

void copy_file(const std::string& from, const std::string& to) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

// The registry listing a child sees with XINHE_BACKEND_PATH = path. OpenCL is kept out
// (no ICD) so each child starts fast; the cases about OpenCL files use their own children.
ChildResult list_backends(const std::string& backend_path, Env extra = {},
                          const std::string& cwd = "") {
  TempDir no_icds;
  Env env = {{"XINHE_BACKEND_PATH", backend_path},
             {"OCL_ICD_VENDORS", no_icds.path()},
             {"XINHE_PLUGIN_STRICT", std::nullopt},
             {"XINHE_VERBOSE", std::nullopt}};
  for (auto& [k, v] : extra) env[k] = v;
  return run_child({XINHE_HOSTILE_CHILD, "list"}, env, kWatchdogSeconds, cwd);
}

// The "backend ..." line of the listing whose name is name ("" when absent).
std::string backend_line(const ChildResult& r, const std::string& name) {
  std::istringstream lines(r.output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("backend " + name + " ", 0) == 0) return line;
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---- Plugins ------------------------------------------------------------------------------

// F12: a plugin truncated to 4096 bytes crashed the process with SIGBUS inside dlopen.
TEST(HostilePlugins, TruncatedPluginIsRefusedNotLoaded) {
  TempDir dir;
  const std::string file = dir / "libxinhe_backend_cut.so";
  copy_file(plugin_of("okplugin"), file);
  ASSERT_GT(fs::file_size(file), 8192u);
  fs::resize_file(file, 4096);
  const ChildResult r = list_backends(dir.path());
  ASSERT_TRUE(r.exited_zero()) << r.describe();
  const std::string line = backend_line(r, "cut");
  EXPECT_TRUE(contains(line, "loaded=0")) << r.output;
  EXPECT_TRUE(contains(line, "past the end of the file")) << r.output;
}

// F14: a FIFO named like a plugin hung the scan inside dlopen.
TEST(HostilePlugins, FifoNamedLikePluginDoesNotHang) {
  TempDir dir;
  ASSERT_EQ(mkfifo((dir / "libxinhe_backend_fifo.so").c_str(), 0644), 0);
  const ChildResult r = list_backends(dir.path());
  ASSERT_TRUE(r.exited_zero()) << r.describe();
  EXPECT_TRUE(contains(backend_line(r, "fifo"), "is a FIFO, not a regular file")) << r.output;
}

TEST(HostilePlugins, DirectoryAndDevZeroNamedLikePlugins) {
  TempDir dir;
  ASSERT_TRUE(fs::create_directory(dir / "libxinhe_backend_folder.so"));
  fs::create_symlink("/dev/zero", dir / "libxinhe_backend_zero.so");
  const ChildResult r = list_backends(dir.path());
  ASSERT_TRUE(r.exited_zero()) << r.describe();
  EXPECT_TRUE(contains(backend_line(r, "folder"), "is a directory")) << r.output;
  EXPECT_TRUE(contains(backend_line(r, "zero"), "is a character device")) << r.output;
}

// F13: abi_major was read from a table smaller than its header (here: past a mapped page).
TEST(HostilePlugins, TableSmallerThanItsHeaderIsRefused) {
  const ChildResult r = list_backends(std::string(XINHE_HOSTILE_PLUGIN_DIR) + "/tinytable");
  ASSERT_TRUE(r.exited_zero()) << r.describe();
  const std::string line = backend_line(r, "tinytable");
  EXPECT_TRUE(contains(line, "loaded=0 code=FAILED_PRECONDITION")) << r.output;
  EXPECT_TRUE(contains(line, "struct_size 8 is smaller than its header")) << r.output;
}

// F15: backend_create calling xinhe_device_count deadlocked on the registry's once-flag.
TEST(HostilePlugins, ReentrantCallFromBackendCreateIsRefused) {
  const ChildResult r = list_backends(std::string(XINHE_HOSTILE_PLUGIN_DIR) + "/reentrant");
  ASSERT_TRUE(r.exited_zero()) << r.describe();
  const std::string line = backend_line(r, "hostile");
  EXPECT_TRUE(contains(line, "loaded=0")) << r.output;
  EXPECT_TRUE(contains(line, "returned FAILED_PRECONDITION")) << r.output;
  EXPECT_TRUE(contains(line, "re-entrant registry calls are refused")) << r.output;
  EXPECT_TRUE(contains(r.output, "backend cpu loaded=1")) << r.output;
}

// F16: a device count of 2^32 - 1 made the core open devices without limit.
TEST(HostilePlugins, HugeDeviceCountIsRefused) {
  const ChildResult r = list_backends(std::string(XINHE_HOSTILE_PLUGIN_DIR) + "/hugecount");
  ASSERT_TRUE(r.exited_zero()) << r.describe();
  const std::string line = backend_line(r, "hostile");
  EXPECT_TRUE(contains(line, "loaded=0 code=FAILED_PRECONDITION")) << r.output;
  EXPECT_TRUE(contains(line, "device_count reported 4294967295 devices, more than the 256"))
      << r.output;
}

// An exception thrown while a plugin loads (a static constructor inside dlopen, the entry,
// device enumeration) escaped the C API: the host aborted, every backend was lost, and each
// later call rebuilt (and leaked) the registry. Now that plugin alone is skipped, with why.
TEST(HostilePlugins, ExceptionWhileLoadingSkipsThatPluginOnly) {
  const struct {
    const char* stem;
    const char* name;  // the table's name once it was read, else the file's
    const char* reason;
  } cases[] = {
      {"ctorthrows", "ctorthrows", "dlopen (a static constructor of the plugin) threw: ctor boom"},
      {"entrythrows", "entrythrows", "entry 'xinhe_backend_entry' threw: entry boom"},
      {"countthrows", "hostile", "device_count threw: device_count boom"},
      {"openthrows", "hostile", "device_open(0) threw: device_open boom"},
      {"propsthrows", "hostile", "device_properties(0) threw: device_properties boom"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.stem);
    const ChildResult r = list_backends(std::string(XINHE_HOSTILE_PLUGIN_DIR) + "/" + c.stem);
    ASSERT_TRUE(r.exited_zero()) << r.describe();
    const std::string line = backend_line(r, c.name);
    EXPECT_TRUE(contains(line, "loaded=0 code=INTERNAL")) << r.output;
    EXPECT_TRUE(contains(line, c.reason)) << r.output;
    EXPECT_TRUE(contains(r.output, "backend cpu loaded=1")) << r.output;
  }
}

// The same plugins, asked three times: the registry is built once (the thread count of its
// CPU pool does not grow, the backend list does not change).
TEST(HostilePlugins, RegistryIsBuiltOnceWhenAPluginThrows) {
  for (const char* stem : {"ctorthrows", "entrythrows"}) {
    SCOPED_TRACE(stem);
    TempDir no_icds;
    const Env env = {{"XINHE_BACKEND_PATH", std::string(XINHE_HOSTILE_PLUGIN_DIR) + "/" + stem},
                     {"OCL_ICD_VENDORS", no_icds.path()},
                     {"XINHE_VERBOSE", std::nullopt}};
    const ChildResult r = run_child({XINHE_HOSTILE_CHILD, "repeat", "3"}, env, kWatchdogSeconds);
    ASSERT_TRUE(r.exited_zero()) << r.describe();
    // The counts after "round <i> " on each such line (no <regex>: GCC 12 at -O1 under the
    // sanitizers warns inside it, and warnings are errors).
    std::vector<std::string> rounds;
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("round ", 0) != 0) continue;
      const size_t counts = line.find(" backends ");
      if (counts != std::string::npos) rounds.push_back(line.substr(counts + 1));
    }
    ASSERT_EQ(rounds.size(), 3u) << r.output;
    EXPECT_EQ(rounds[0], rounds[1]) << r.output;
    EXPECT_EQ(rounds[0], rounds[2]) << r.output;
  }
}

// struct_size ending 4 bytes into buffer_address: the core copied half a pointer and called
// it (SIGSEGV). An entry struct_size covers only in part is absent (XINHE_STRUCT_HAS).
TEST(HostilePlugins, EntryCutByStructSizeIsAbsent) {
  const std::string folder = std::string(XINHE_HOSTILE_PLUGIN_DIR) + "/torntable";
  const ChildResult list = list_backends(folder);
  ASSERT_TRUE(list.exited_zero()) << list.describe();
  EXPECT_TRUE(contains(backend_line(list, "hostile"), "loaded=1")) << list.output;
  TempDir no_icds;
  const Env env = {{"XINHE_BACKEND_PATH", folder}, {"OCL_ICD_VENDORS", no_icds.path()}};
  const ChildResult r =
      run_child({XINHE_HOSTILE_CHILD, "buffer-address", "hostile:0"}, env, kWatchdogSeconds);
  ASSERT_TRUE(r.exited_zero()) << r.describe();
  EXPECT_TRUE(contains(r.output, "buffer_address UNIMPLEMENTED backend hostile exposes no buffer"))
      << r.output;
}

// A plugin that ends the process while it loads: XINHE_VERBOSE=load names the file before
// dlopen and says which entry was being called.
TEST(HostilePlugins, VerboseLoadNamesThePluginBeforeCallingIt) {
  const std::string folder = std::string(XINHE_HOSTILE_PLUGIN_DIR) + "/createexit";
  const ChildResult r = list_backends(folder, {{"XINHE_VERBOSE", "load"}});
  ASSERT_FALSE(r.timed_out) << r.describe();
  EXPECT_EQ(r.exit_code, 7) << r.describe();
  EXPECT_TRUE(contains(
      r.output, "xinhe[load] createexit: loading " + folder + "/libxinhe_backend_createexit.so\n"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "xinhe[load] createexit: calling xinhe_backend_entry\n"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "xinhe[load] hostile: calling backend_create\n")) << r.output;
}

// XINHE_BACKEND_PATH naming a plugin file or a missing folder was logged as "not readable";
// a file met again through another entry was skipped without a word.
TEST(HostilePlugins, SearchPathProblemsAreNamed) {
  const ChildResult file = list_backends(plugin_of("okplugin"), {{"XINHE_VERBOSE", "load"}});
  ASSERT_TRUE(file.exited_zero()) << file.describe();
  EXPECT_TRUE(contains(file.output,
                       "plugin folder '" + plugin_of("okplugin") + "' is a file, not a folder"))
      << file.output;
  const ChildResult missing =
      list_backends("/nonexistent/xinhe/plugins", {{"XINHE_VERBOSE", "load"}});
  ASSERT_TRUE(missing.exited_zero()) << missing.describe();
  EXPECT_TRUE(contains(missing.output, "plugin folder '/nonexistent/xinhe/plugins' does not exist"))
      << missing.output;

  TempDir dir;
  const std::string link = dir / "libxinhe_backend_okplugin.so";
  fs::create_symlink(plugin_of("okplugin"), link);
  const std::string folder = std::string(XINHE_HOSTILE_PLUGIN_DIR) + "/okplugin";
  const ChildResult twice = list_backends(dir.path() + ":" + folder, {{"XINHE_VERBOSE", "load"}});
  ASSERT_TRUE(twice.exited_zero()) << twice.describe();
  EXPECT_TRUE(contains(twice.output, "skipped " + folder +
                                         "/libxinhe_backend_okplugin.so: the same file as " + link))
      << twice.output;
}

// A misspelt XINHE_VERBOSE topic logged nothing, silently.
TEST(HostileEnv, UnknownVerboseTopicIsWarnedAboutOnce) {
  const ChildResult r = list_backends(std::string(XINHE_HOSTILE_PLUGIN_DIR) + "/okplugin",
                                      {{"XINHE_VERBOSE", "dispach, load,cahce"}});
  ASSERT_TRUE(r.exited_zero()) << r.describe();
  const std::string warning =
      "warning: XINHE_VERBOSE names topic(s) 'dispach', 'cahce' that xinhe and its own backends "
      "do not log under (theirs: all, cache, dispatch, load); a vendor plugin may log under a "
      "topic of its own\n";
  const size_t first = r.output.find(warning);
  EXPECT_NE(first, std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(warning, first + 1), std::string::npos) << "warned twice: " << r.output;
  EXPECT_TRUE(contains(r.output, "xinhe[load] hostile: loaded")) << r.output;  // "load" still on
  const ChildResult known = list_backends(std::string(XINHE_HOSTILE_PLUGIN_DIR) + "/okplugin",
                                          {{"XINHE_VERBOSE", "all,load, dispatch,cache"}});
  ASSERT_TRUE(known.exited_zero()) << known.describe();
  EXPECT_FALSE(contains(known.output, "XINHE_VERBOSE names")) << known.output;
}

#ifdef XINHE_INFO
// A wrong XINHE_BACKEND_PATH showed nothing in xinhe-info: its plugins were simply missing.
TEST(HostilePlugins, XinheInfoListsThePluginFoldersItSearched) {
  TempDir no_icds;
  const std::string folder = std::string(XINHE_HOSTILE_PLUGIN_DIR) + "/okplugin";
  const Env env = {
      {"XINHE_BACKEND_PATH", "/nonexistent/xinhe/plugins:" + plugin_of("okplugin") + ":" + folder},
      {"OCL_ICD_VENDORS", no_icds.path()},
      {"XINHE_VERBOSE", std::nullopt}};
  const ChildResult r = run_child({XINHE_INFO}, env, kWatchdogSeconds);
  ASSERT_TRUE(r.exited_zero()) << r.describe();
  EXPECT_TRUE(contains(r.output, "Plugin folders")) << r.output;
  EXPECT_TRUE(
      contains(r.output, "  /nonexistent/xinhe/plugins  (XINHE_BACKEND_PATH): does not exist\n"))
      << r.output;
  EXPECT_TRUE(contains(
      r.output, "  " + plugin_of("okplugin") + "  (XINHE_BACKEND_PATH): is a file, not a folder"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "  " + folder + "  (XINHE_BACKEND_PATH)\n")) << r.output;
  EXPECT_TRUE(contains(r.output, "  (installed)")) << r.output;
}
#endif

// F19: escape codes and newlines in a plugin's name reached the terminal raw.
TEST(HostilePlugins, EscapeCodesInTheNameAreRefusedAndNeverPrintedRaw) {
  const ChildResult r = list_backends(std::string(XINHE_HOSTILE_PLUGIN_DIR) + "/evilname",
                                      {{"XINHE_VERBOSE", "load"}});
  ASSERT_TRUE(r.exited_zero()) << r.describe();
  EXPECT_EQ(r.output.find('\x1b'), std::string::npos) << "raw ESC in: " << r.output;
  // The reason holds the name escaped; printing escapes again, so each backslash is doubled.
  EXPECT_TRUE(
      contains(r.output, "backend name 'evil\\\\x1b[31m\\\\x0aname' is not 1-32 characters"))
      << r.output;
}

// A device_type from a newer header, and min_alignment left 0: the core reads them as UNKNOWN
// (with a warning that names the value) and 1, so no caller sees a type outside its enum.
TEST(HostilePlugins, UnknownDeviceTypeReadsAsUnknownAndZeroAlignmentAsOne) {
  const ChildResult r = list_backends(std::string(XINHE_HOSTILE_PLUGIN_DIR) + "/oddprops");
  ASSERT_TRUE(r.exited_zero()) << r.describe();
  EXPECT_TRUE(contains(backend_line(r, "hostile"), "loaded=1")) << r.output;
  EXPECT_TRUE(contains(r.output, "device hostile:0 type=0 (unknown) min_alignment=1\n")) << r.output;
  EXPECT_TRUE(contains(r.output, "hostile:0 reports device_type 99, which this core does not know"))
      << r.output;
  // The well-behaved variant keeps what it reports.
  const ChildResult ok = list_backends(std::string(XINHE_HOSTILE_PLUGIN_DIR) + "/okplugin");
  ASSERT_TRUE(ok.exited_zero()) << ok.describe();
  EXPECT_TRUE(contains(ok.output, "device hostile:0 type=0 (unknown) min_alignment=64\n"))
      << ok.output;
  EXPECT_FALSE(contains(ok.output, "does not know")) << ok.output;
}

// A plugin (or its driver: PoCL's LLVM) that installs signal handlers and an alternate signal
// stack while loading: the application's handlers stay in force (its SIGUSR1 handler never ran
// again once PoCL was loaded) and the loading thread's alternate stack is put back (under ASan
// a thread whose first xinhe call loaded PoCL aborted at exit).
TEST(HostilePlugins, LoadingKeepsTheApplicationsSignalHandlers) {
  TempDir no_icds;
  const std::pair<std::string, Env> runs[] = {
      {"a plugin that installs handlers",
       {{"XINHE_BACKEND_PATH", std::string(XINHE_HOSTILE_PLUGIN_DIR) + "/signals"},
        {"OCL_ICD_VENDORS", no_icds.path()},
        {"XINHE_VERBOSE", "load"}}},
      // PoCL where it is installed (CI installs it); elsewhere the run is the control case.
      {"the OpenCL plugin", {{"XINHE_BACKEND_PATH", std::nullopt}, {"XINHE_VERBOSE", std::nullopt}}},
  };
  for (const auto& [what, env] : runs) {
    SCOPED_TRACE(what);
    const ChildResult r = run_child({XINHE_HOSTILE_CHILD, "signals"}, env, kWatchdogSeconds);
    ASSERT_TRUE(r.exited_zero()) << r.describe();
    EXPECT_TRUE(contains(r.output, "handlers kept\n")) << r.output;
    EXPECT_TRUE(contains(r.output, "usr1 ran 1\n")) << r.output;
    EXPECT_TRUE(contains(r.output, "thread altstack off\n")) << r.output;
  }
  const ChildResult r = run_child({XINHE_HOSTILE_CHILD, "signals"}, runs[0].second, kWatchdogSeconds);
  EXPECT_TRUE(contains(r.output, "hostile: put back the process's SIGUSR1, SIGSEGV, the alternate "
                                 "signal stack"))
      << r.output;
}

#ifdef XINHE_INFO
// F17: non-UTF-8 bytes in a plugin's name, path or reason made xinhe-info --json abort; F19
// for the text output.
TEST(HostilePlugins, NonUtf8AndEscapeCodesInFileNamesKeepXinheInfoSafe) {
  TempDir dir;
  const std::string name = std::string("libxinhe_backend_\xff\xfe\x1b[2J\x1b]0;x\x07.so");
  std::ofstream(dir / name) << "not a shared object\n";
  TempDir no_icds;
  const Env env = {{"XINHE_BACKEND_PATH", dir.path()},
                   {"OCL_ICD_VENDORS", no_icds.path()},
                   {"XINHE_VERBOSE", "load"}};
  const ChildResult json_run = run_child({XINHE_INFO, "--json"}, env, kWatchdogSeconds);
  ASSERT_TRUE(json_run.exited_zero()) << json_run.describe();
  // stderr (the load log, a sanitizer's summary) is interleaved; the JSON object runs from the
  // first line that is "{" to the first line that is "}".
  const size_t brace = json_run.output.find("{\n");
  ASSERT_NE(brace, std::string::npos) << json_run.output;
  const size_t end = json_run.output.find("\n}\n", brace);
  ASSERT_NE(end, std::string::npos) << json_run.output;
  nlohmann::json report;
  ASSERT_NO_THROW(report = nlohmann::json::parse(json_run.output.substr(brace, end + 2 - brace)))
      << json_run.output;
  bool found = false;
  for (const auto& b : report["backends"]) {
    const std::string path = b["path"].get<std::string>();
    if (contains(path, dir.path())) {
      found = true;
      EXPECT_TRUE(contains(path, "\xEF\xBF\xBD")) << "invalid UTF-8 not replaced: " << path;
      EXPECT_FALSE(b["loaded"].get<bool>());
    }
  }
  EXPECT_TRUE(found) << json_run.output;
  const ChildResult text_run = run_child({XINHE_INFO}, env, kWatchdogSeconds);
  ASSERT_TRUE(text_run.exited_zero()) << text_run.describe();
  EXPECT_EQ(text_run.output.find('\x1b'), std::string::npos) << text_run.output;
  EXPECT_EQ(text_run.output.find('\x07'), std::string::npos) << text_run.output;
  EXPECT_TRUE(contains(text_run.output, "\\xff\\xfe\\x1b[2J")) << text_run.output;
}
#endif

// F18: world-writable plugin files and folders, and relative XINHE_BACKEND_PATH entries,
// loaded without a word.
TEST(HostilePlugins, WorldWritablePluginFileWarnsAndStrictModeRefuses) {
  TempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
  const std::string file = dir / "libxinhe_backend_okplugin.so";
  copy_file(plugin_of("okplugin"), file);
  ASSERT_EQ(chmod(file.c_str(), 0666), 0);
  const ChildResult warned = list_backends(dir.path());
  ASSERT_TRUE(warned.exited_zero()) << warned.describe();
  EXPECT_TRUE(contains(backend_line(warned, "hostile"), "loaded=1")) << warned.output;
  EXPECT_TRUE(contains(warned.output, "warning: plugin file '")) << warned.output;
  EXPECT_TRUE(contains(warned.output, "is writable by every user")) << warned.output;
  const ChildResult strict = list_backends(dir.path(), {{"XINHE_PLUGIN_STRICT", "1"}});
  ASSERT_TRUE(strict.exited_zero()) << strict.describe();
  const std::string line = backend_line(strict, "okplugin");
  EXPECT_TRUE(contains(line, "loaded=0 code=FAILED_PRECONDITION")) << strict.output;
  EXPECT_TRUE(contains(line, "refused by XINHE_PLUGIN_STRICT=1")) << strict.output;
}

TEST(HostilePlugins, WorldWritableFolderWarnsAndStrictModeRefuses) {
  TempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0777), 0);
  copy_file(plugin_of("okplugin"), dir / "libxinhe_backend_okplugin.so");
  ASSERT_EQ(chmod((dir / "libxinhe_backend_okplugin.so").c_str(), 0755), 0);
  const ChildResult warned = list_backends(dir.path());
  ASSERT_TRUE(warned.exited_zero()) << warned.describe();
  EXPECT_TRUE(contains(backend_line(warned, "hostile"), "loaded=1")) << warned.output;
  EXPECT_TRUE(contains(warned.output, "warning: plugin folder '")) << warned.output;
  const ChildResult strict = list_backends(dir.path(), {{"XINHE_PLUGIN_STRICT", "1"}});
  ASSERT_TRUE(strict.exited_zero()) << strict.describe();
  EXPECT_TRUE(contains(backend_line(strict, "okplugin"), "refused by XINHE_PLUGIN_STRICT=1"))
      << strict.output;
}

// XINHE_PLUGIN_STRICT=yes, true or 2 loaded a world-writable folder's plugin with only the
// usual warning: only "1" meant strict. The security switch now fails closed: unset, empty
// and "0" are off; any other value is on, with a warning naming it.
TEST(HostilePlugins, StrictModeValuesOtherThan0Or1FailClosedWithAWarning) {
  TempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0777), 0);
  copy_file(plugin_of("okplugin"), dir / "libxinhe_backend_okplugin.so");
  ASSERT_EQ(chmod((dir / "libxinhe_backend_okplugin.so").c_str(), 0755), 0);
  for (const char* value : {"yes", "true", "2", "on", "off", " 1", "1 "}) {
    const ChildResult r = list_backends(dir.path(), {{"XINHE_PLUGIN_STRICT", value}});
    ASSERT_TRUE(r.exited_zero()) << r.describe();
    EXPECT_TRUE(contains(backend_line(r, "okplugin"), "refused by XINHE_PLUGIN_STRICT=1"))
        << "'" << value << "': " << r.output;
    EXPECT_EQ(backend_line(r, "hostile"), "") << "'" << value << "': " << r.output;
    EXPECT_TRUE(contains(r.output, std::string("warning: XINHE_PLUGIN_STRICT='") + value +
                                       "' is not 0 or 1; treated as 1"))
        << "'" << value << "': " << r.output;
  }
  for (const char* value : {"0", ""}) {
    const ChildResult r = list_backends(dir.path(), {{"XINHE_PLUGIN_STRICT", value}});
    ASSERT_TRUE(r.exited_zero()) << r.describe();
    EXPECT_TRUE(contains(backend_line(r, "hostile"), "loaded=1"))
        << "'" << value << "': " << r.output;
    EXPECT_FALSE(contains(r.output, "is not 0 or 1")) << "'" << value << "': " << r.output;
  }
  // Reported even when no plugin is met, and a long value is cut short in the warning.
  const std::string long_value(5000, 'y');
  const ChildResult r = list_backends("", {{"XINHE_PLUGIN_STRICT", long_value}});
  ASSERT_TRUE(r.exited_zero()) << r.describe();
  EXPECT_TRUE(contains(r.output, "XINHE_PLUGIN_STRICT='" + std::string(64, 'y') + "...'"))
      << r.output;
  EXPECT_FALSE(contains(r.output, std::string(65, 'y'))) << r.output;
}

TEST(HostilePlugins, RelativeBackendPathWarnsAndStrictModeSkips) {
  TempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
  copy_file(plugin_of("okplugin"), dir / "libxinhe_backend_okplugin.so");
  ASSERT_EQ(chmod((dir / "libxinhe_backend_okplugin.so").c_str(), 0755), 0);
  const ChildResult warned = list_backends(".", {}, dir.path());
  ASSERT_TRUE(warned.exited_zero()) << warned.describe();
  EXPECT_TRUE(contains(warned.output, "XINHE_BACKEND_PATH entry '.' is relative")) << warned.output;
  EXPECT_TRUE(contains(backend_line(warned, "hostile"), "loaded=1")) << warned.output;
  const ChildResult strict = list_backends(".", {{"XINHE_PLUGIN_STRICT", "1"}}, dir.path());
  ASSERT_TRUE(strict.exited_zero()) << strict.describe();
  EXPECT_TRUE(contains(strict.output, "skipped under XINHE_PLUGIN_STRICT=1")) << strict.output;
  EXPECT_EQ(backend_line(strict, "hostile"), "") << strict.output;
  EXPECT_EQ(backend_line(strict, "okplugin"), "") << strict.output;
}

// ---- Environment --------------------------------------------------------------------------

// " 4" and "+4" were accepted for XINHE_CPU_THREADS but "4 " refused.
TEST(HostileEnv, NonCanonicalCpuThreadsAreRefusedAlike) {
  for (const char* value : {" 4", "+4", "4 ", "4x", "-4", "99999999999999999999"}) {
    const ChildResult r = list_backends("", {{"XINHE_CPU_THREADS", value}});
    ASSERT_TRUE(r.exited_zero()) << r.describe();
    const std::string line = backend_line(r, "cpu");
    EXPECT_TRUE(contains(line, "loaded=0 code=INVALID_ARGUMENT"))
        << "'" << value << "': " << r.output;
    EXPECT_TRUE(contains(line, "digits only")) << r.output;
  }
  const ChildResult r = list_backends("", {{"XINHE_CPU_THREADS", "4"}});
  EXPECT_TRUE(contains(backend_line(r, "cpu"), "loaded=1")) << r.output;
}

// XINHE_CPU_PROBE=no ran the probes anyway; now any value but 0 and 1 is refused with the
// reason, like XINHE_CPU_THREADS and XINHE_CPU_BIND.
TEST(HostileEnv, InvalidCpuProbeValueMakesCpuUnavailable) {
  for (const char* value : {"no", "false", ""}) {
    const ChildResult r = list_backends("", {{"XINHE_CPU_PROBE", value}});
    ASSERT_TRUE(r.exited_zero()) << r.describe();
    const std::string line = backend_line(r, "cpu");
    EXPECT_TRUE(contains(line, "loaded=0 code=INVALID_ARGUMENT"))
        << "'" << value << "': " << r.output;
    EXPECT_TRUE(contains(line, std::string("XINHE_CPU_PROBE='") + value + "' is not 0"))
        << r.output;
  }
  const ChildResult r = list_backends("", {{"XINHE_CPU_PROBE", "0"}});
  EXPECT_TRUE(contains(backend_line(r, "cpu"), "loaded=1")) << r.output;
}

// A 120 KB XINHE_VERBOSE made every op creation 50 times slower.
TEST(HostileEnv, LongVerboseValueDoesNotSlowOpCreation) {
  TempDir no_icds;
  const Env base = {{"OCL_ICD_VENDORS", no_icds.path()}, {"XINHE_BACKEND_PATH", ""}};
  Env long_verbose = base;
  // No topic op creation asks for ("dispatch"), so a parser has to read all of it.
  std::string value = "cache";
  while (value.size() < 120 * 1024) value += ",nothing-of-interest";
  long_verbose["XINHE_VERBOSE"] = value;
  Env no_verbose = base;
  no_verbose["XINHE_VERBOSE"] = std::nullopt;
  auto elapsed = [](const ChildResult& r) {
    const size_t at = r.output.find("elapsed_ms ");
    return at == std::string::npos ? -1.0 : std::stod(r.output.substr(at + 11));
  };
  // Best of three each, so that a busy machine does not decide the comparison.
  double quiet = 1e30, noisy = 1e30;
  for (int i = 0; i < 3; ++i) {
    const ChildResult a =
        run_child({XINHE_HOSTILE_CHILD, "gemm-ops", "2000"}, no_verbose, kWatchdogSeconds);
    const ChildResult b =
        run_child({XINHE_HOSTILE_CHILD, "gemm-ops", "2000"}, long_verbose, kWatchdogSeconds);
    ASSERT_TRUE(a.exited_zero()) << a.describe();
    ASSERT_TRUE(b.exited_zero()) << b.describe();
    EXPECT_TRUE(contains(b.output, "XINHE_VERBOSE is longer than 1024 characters; ignored"))
        << b.output;
    quiet = std::min(quiet, elapsed(a));
    noisy = std::min(noisy, elapsed(b));
  }
  EXPECT_LT(noisy, 5.0 * quiet + 5.0) << "2000 op creations: " << quiet << " ms, with a 120 KB "
                                      << "XINHE_VERBOSE " << noisy << " ms";
}

// ---- OpenCL: tuning database (F10, F11, F9) -------------------------------------------------

// /dev/zero as the database was read without limit when the registry was built, also in
// programs that only use cpu:0; a FIFO hung the first call.
TEST(HostileTuningDb, DevZeroAndFifoAreRefusedUnread) {
  TempDir dir;
  const std::string fifo = dir / "tuning.fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  for (const std::string& db : {std::string("/dev/zero"), fifo}) {
    const ChildResult r =
        run_child({XINHE_HOSTILE_CHILD, "cpu-gemm"},
                  {{"XINHE_TUNING_DB", db}, {"XINHE_VERBOSE", "dispatch"}}, kWatchdogSeconds);
    ASSERT_TRUE(r.exited_zero()) << db << ": " << r.describe();
    EXPECT_TRUE(contains(r.output, "cpu-gemm ok")) << r.output;
    EXPECT_LT(r.max_rss_kb, 1536 * 1024) << db << ": peak memory " << r.max_rss_kb << " KiB";
    if (contains(r.output, "opencl")) {  // OpenCL present: it must say why it ignored the file
      EXPECT_TRUE(contains(r.output, "not a regular file")) << r.output;
    }
  }
}

#ifdef XINHE_CACHE_PROBE
// Tuning parameters that passed validation crashed inside the compiled kernel: a 4096x1024
// local-memory GEMM tile and a 4096-wide attention work-group.
TEST(HostileTuningDb, ParametersBeyondTheDeviceLimitsFallBackToDefaults) {
  const ChildResult name = run_child({XINHE_CACHE_PROBE, "device-name"}, {}, kWatchdogSeconds);
  if (name.exit_code == 77) GTEST_SKIP() << "no OpenCL: " << name.output;
  ASSERT_TRUE(name.exited_zero()) << name.describe();
  const size_t at = name.output.find("device: ");
  ASSERT_NE(at, std::string::npos) << name.output;
  const std::string device = name.output.substr(at + 8, name.output.find('\n', at) - at - 8);
  TempDir dir;
  std::ofstream(dir / "db.txt") << "xinhe-tuning-db 1\n"
                                << device << "|*|f32|gemm|MWI=16,NWI=64,VW=4,KWI=1,MWG=4096,"
                                << "NWG=1024,KWG=64,USE_LOCAL=1,PACK=0\n"
                                << device << "|*|f32|attention|QWI=8,BKV=64,WG=4096,DV=8\n";
  const ChildResult r = run_child(
      {XINHE_CACHE_PROBE, "tuned"},
      {{"XINHE_TUNING_DB", dir / "db.txt"}, {"XINHE_CACHE_DIR", dir / "cache"}}, kWatchdogSeconds);
  ASSERT_TRUE(r.exited_zero()) << r.describe();
  EXPECT_TRUE(contains(r.output, "gemm: ok")) << r.output;
  EXPECT_TRUE(contains(r.output, "attention: ok")) << r.output;
  EXPECT_TRUE(contains(r.output, "unusable (local tiles need")) << r.output;
  EXPECT_TRUE(contains(r.output, "unusable (work-group keeps")) << r.output;
}

// ---- OpenCL: kernel-cache entries (F5, F6, F7, F8) -------------------------------------------

class HostileCache : public ::testing::Test {
 protected:
  // Runs the probe once so that the folder holds the GEMM's entry; skips without OpenCL.
  void SetUp() override {
    const ChildResult first = probe();
    if (first.exit_code == 77) GTEST_SKIP() << "no OpenCL: " << first.output;
    ASSERT_TRUE(first.exited_zero()) << first.describe();
    entry_ = only_entry();
    ASSERT_FALSE(entry_.empty());
    std::ifstream in(entry_, std::ios::binary);
    bytes_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    ASSERT_GT(bytes_.size(), 40u);
  }
  ChildResult probe(const char* mode = nullptr) {
    std::vector<std::string> argv = {XINHE_CACHE_PROBE};
    if (mode != nullptr) argv.push_back(mode);
    return run_child(argv, {{"XINHE_CACHE_DIR", dir_.path()}, {"XINHE_VERBOSE", "cache"}},
                     kWatchdogSeconds);
  }
  std::string only_entry() const {
    std::string found;
    for (const auto& e : fs::directory_iterator(dir_.path())) {
      if (e.path().extension() == ".bin") found = e.path().string();
    }
    return found;
  }
  static std::string reseal(std::string entry, const std::string& payload) {
    // Header: magic 8, version 4, reserved 4, key 8, payload size 8, FNV-1a 64 checksum 8.
    uint64_t size = payload.size(), hash = 0xcbf29ce484222325ull;
    for (unsigned char c : payload) hash = (hash ^ c) * 0x100000001b3ull;
    entry.resize(40);
    std::memcpy(&entry[24], &size, 8);
    std::memcpy(&entry[32], &hash, 8);
    return entry + payload;
  }
  void replace_entry(const std::string& content) {
    fs::remove(entry_);
    std::ofstream(entry_, std::ios::binary) << content;
  }
  // After the hostile entry: the probe finishes and rebuilds, and the next one hits the disk.
  void expect_rebuilt_then_hit(const char* what) {
    const ChildResult rebuilt = probe();
    ASSERT_TRUE(rebuilt.exited_zero()) << what << ": " << rebuilt.describe();
    EXPECT_TRUE(contains(rebuilt.output, "builds=1")) << what << ": " << rebuilt.output;
    EXPECT_TRUE(contains(rebuilt.output, "rejected (")) << what << ": " << rebuilt.output;
    const ChildResult again = probe();
    ASSERT_TRUE(again.exited_zero()) << what << ": " << again.describe();
    EXPECT_TRUE(contains(again.output, "disk_hits=1")) << what << ": " << again.output;
  }
  TempDir dir_;
  std::string entry_, bytes_;
};

// F6: an entry that is a FIFO hung op creation.
TEST_F(HostileCache, FifoEntryDoesNotHang) {
  fs::remove(entry_);
  ASSERT_EQ(mkfifo(entry_.c_str(), 0644), 0);
  expect_rebuilt_then_hit("FIFO");
}

TEST_F(HostileCache, DirectoryAndDevZeroEntriesAreRejected) {
  fs::remove(entry_);
  fs::create_directory(entry_);
  expect_rebuilt_then_hit("directory");
  fs::remove(entry_);
  fs::create_symlink("/dev/zero", entry_);
  expect_rebuilt_then_hit("/dev/zero");
}

// F5: a 40-byte entry whose size field says 2^31 made the backend allocate and zero 2 GiB.
TEST_F(HostileCache, HugeSizeFieldAllocatesNothing) {
  std::string header = bytes_.substr(0, 40);
  const uint64_t huge = uint64_t{1} << 31;
  std::memcpy(&header[24], &huge, 8);
  replace_entry(header);
  const ChildResult r = probe();
  ASSERT_TRUE(r.exited_zero()) << r.describe();
  EXPECT_TRUE(contains(r.output, "truncated payload")) << r.output;
  EXPECT_LT(r.max_rss_kb, 1536 * 1024) << "peak memory " << r.max_rss_kb << " KiB";
}

// F8: another program's valid binary under the key gave CL_INVALID_KERNEL_NAME on every run.
TEST_F(HostileCache, AnotherProgramsBinaryIsRebuilt) {
  TempDir other;
  const ChildResult attention = run_child({XINHE_CACHE_PROBE, "attention"},
                                          {{"XINHE_CACHE_DIR", other.path()}}, kWatchdogSeconds);
  ASSERT_TRUE(attention.exited_zero()) << attention.describe();
  std::string foreign;
  for (const auto& e : fs::directory_iterator(other.path())) {
    std::ifstream in(e.path(), std::ios::binary);
    foreign.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_GT(foreign.size(), 40u);
  replace_entry(reseal(bytes_, foreign.substr(40)));  // this key, that binary, valid checksum
  const ChildResult r = probe();
  ASSERT_TRUE(r.exited_zero()) << r.describe();
  EXPECT_TRUE(contains(r.output, "lacks kernel 'xinhe_gemm_tiled'")) << r.output;
  const ChildResult again = probe();
  ASSERT_TRUE(again.exited_zero()) << again.describe();
  EXPECT_TRUE(contains(again.output, "disk_hits=1")) << again.output;
}

// F7: a truncated driver binary under a valid header and checksum crashed inside the driver,
// and every later process too. One process may still crash on it (the driver is the one
// reading it); the entry must not survive that, so the following ones work.
TEST_F(HostileCache, ResealedTruncatedBinaryCannotKeepCrashingProcesses) {
  const std::string payload = bytes_.substr(40);
  for (size_t keep : {payload.size() / 2, payload.size() / 8, size_t{64}}) {
    replace_entry(reseal(bytes_, payload.substr(0, keep)));
    const ChildResult first = probe();  // may crash: quarantines the entry either way
    const ChildResult second = probe();
    const ChildResult third = probe();
    ASSERT_TRUE(second.exited_zero())
        << keep << " bytes; first: " << first.describe() << "\nsecond: " << second.describe();
    ASSERT_TRUE(third.exited_zero()) << third.describe();
    EXPECT_TRUE(contains(third.output, "disk_hits=1")) << third.output;
  }
}
#endif

}  // namespace
