// Build-time tool: compiles the Level Zero kernel set (spirv_variants.h) from the OpenCL C
// sources to SPIR-V and writes the C++ file that embeds it into the plugin.
//
// Per variant: clang-15 -cc1 -triple spir64-unknown-unknown (OpenCL C 1.2 with the variant's
// options, typed pointers because llvm-spirv 15 needs them, no LLVM passes), then opt-15 with
// a short pipeline (kOptPasses), then llvm-spirv-15, then spirv-val. Not -O2: llvm-spirv 15
// cannot translate the `freeze` instructions the full pipeline inserts, and its loop passes
// produce block orders spirv-val rejects. Not -O0: clang then marks every function noinline,
// which a GPU compiler would honour for every element load. The short pipeline inlines the
// helpers and cleans up; the device compiler does the rest (unrolling, scheduling). Variants
// compile in parallel; any failure prints the tool's output and fails the build. The images are
// embedded with .incbin (no multi-megabyte C arrays to compile) and listed in a table of (program,
// options, bytes, size) that module_cache.h declares.
//
// Usage: xinhe-level-zero-spirv-compiler --clang <clang-15> --opt <opt-15>
//          --llvm-spirv <llvm-spirv-15>
//          --spirv-val <spirv-val> --prelude <xinhe_dtype.cl> --kernels <dir with gemm/ and
//          attention/> --work <dir> --output <spirv_table.cpp> [--jobs N] [--list]
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "spirv_variants.h"

extern char** environ;

namespace {

// Inline the helpers, promote locals to registers, simplify; nothing that emits `freeze`.
constexpr const char* kOptPasses =
    "function(sroa,early-cse,simplifycfg,instcombine),cgscc(inline),"
    "function(sroa,early-cse,instcombine,simplifycfg,adce),globaldce";

struct Options {
  std::string clang, opt, llvm_spirv, spirv_val, prelude, kernels, work, output;
  unsigned jobs = 0;
  bool list = false;
};

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// Runs argv with stdout and stderr appended to log; true when it exits 0.
bool run(const std::vector<std::string>& args, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    std::ofstream(log, std::ios::app)
        << "cannot run " << args[0] << ": " << std::strerror(rc) << "\n";
    return false;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string source_of(const Options& o, const std::string& program) {
  static const std::map<std::string, std::string> folders = {
      {xinhe::opencl_c::kGemmTiledProgram, "gemm/opencl"},
      {xinhe::opencl_c::kGemmReferenceProgram, "gemm/opencl"},
      {xinhe::opencl_c::kAttentionFlashProgram, "attention/opencl"},
      {xinhe::opencl_c::kAttentionReferenceProgram, "attention/opencl"}};
  auto it = folders.find(program);
  return it == folders.end() ? "" : o.kernels + "/" + it->second + "/" + program + ".cl";
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

int usage(const char* why) {
  std::fprintf(stderr,
               "xinhe-level-zero-spirv-compiler: %s\n"
               "usage: --clang X --opt X --llvm-spirv X --spirv-val X --prelude FILE --kernels DIR "
               "--work DIR --output FILE [--jobs N] | --list\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string jobs;
    if (arg == "--list") {
      o.list = true;
    } else if (arg == "--clang"        ? !value(&o.clang)
               : arg == "--opt"        ? !value(&o.opt)
               : arg == "--llvm-spirv" ? !value(&o.llvm_spirv)
               : arg == "--spirv-val"  ? !value(&o.spirv_val)
               : arg == "--prelude"    ? !value(&o.prelude)
               : arg == "--kernels"    ? !value(&o.kernels)
               : arg == "--work"       ? !value(&o.work)
               : arg == "--output"     ? !value(&o.output)
               : arg == "--jobs"       ? !value(&jobs)
                                       : true) {
      return usage(("bad argument " + arg).c_str());
    }
    if (!jobs.empty()) o.jobs = static_cast<unsigned>(std::stoul(jobs));
  }
  const std::vector<xinhe::level_zero::SpirvVariant> variants =
      xinhe::level_zero::level_zero_spirv_variants();
  if (o.list) {
    for (const auto& v : variants) std::printf("%s|%s\n", v.program.c_str(), v.options.c_str());
    return 0;
  }
  if (o.clang.empty() || o.opt.empty() || o.llvm_spirv.empty() || o.spirv_val.empty() ||
      o.prelude.empty() || o.kernels.empty() || o.work.empty() || o.output.empty())
    return usage("missing an argument");
  if (o.jobs == 0) o.jobs = std::max(1u, std::thread::hardware_concurrency());

  std::vector<std::string> spv(variants.size()), logs(variants.size());
  std::vector<int> ok(variants.size(), 0);
  std::atomic<size_t> next{0};
  const auto worker = [&] {
    for (size_t i = next++; i < variants.size(); i = next++) {
      const auto& v = variants[i];
      const std::string base = o.work + "/" + v.program + "_" + std::to_string(i);
      const std::string bc = base + ".bc", opt_bc = base + ".opt.bc";
      spv[i] = base + ".spv";
      logs[i] = base + ".log";
      std::remove(logs[i].c_str());
      std::vector<std::string> cc = {o.clang,
                                     "-cc1",
                                     "-triple",
                                     "spir64-unknown-unknown",
                                     "-finclude-default-header",
                                     "-no-opaque-pointers",
                                     "-emit-llvm-bc",
                                     "-O2",
                                     "-disable-llvm-passes",
                                     "-include",
                                     o.prelude};
      for (const std::string& w : split_words(v.options)) cc.push_back(w);
      cc.insert(cc.end(), {"-o", bc, source_of(o, v.program)});
      ok[i] = run(cc, logs[i]) &&
              run({o.opt, std::string("-passes=") + kOptPasses, bc, "-o", opt_bc}, logs[i]) &&
              run({o.llvm_spirv, opt_bc, "-o", spv[i]}, logs[i]) &&
              run({o.spirv_val, spv[i]}, logs[i]);
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < o.jobs; ++t) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();

  int failed = 0;
  for (size_t i = 0; i < variants.size(); ++i) {
    if (ok[i]) continue;
    ++failed;
    std::ifstream log(logs[i]);
    std::fprintf(stderr, "SPIR-V variant %s '%s' failed:\n%s\n", variants[i].program.c_str(),
                 variants[i].options.c_str(),
                 std::string(std::istreambuf_iterator<char>(log), {}).c_str());
  }
  if (failed) return 1;

  std::ostringstream out;
  out << "// Generated by xinhe-level-zero-spirv-compiler (backends/level_zero/spirv_compiler.cpp)"
         "; do not edit.\n#include <cstddef>\n#include <string>\n\n#include \"module_cache.h\"\n\n";
  // The images, each 16-byte aligned in .rodata, between a start and an end label.
  out << "__asm__(\".pushsection .rodata\\n\"\n";
  for (size_t i = 0; i < variants.size(); ++i) {
    const std::string name = "xinhe_ze_spirv_" + std::to_string(i);
    out << "        \".balign 16\\n.globl " << name << "\\n.hidden " << name << "\\n"
        << name << ":\\n.incbin \\\"" << escape(spv[i]) << "\\\"\\n.globl " << name
        << "_end\\n.hidden " << name << "_end\\n"
        << name << "_end:\\n\"\n";
  }
  out << "        \".popsection\\n\");\n\n";
  for (size_t i = 0; i < variants.size(); ++i)
    out << "extern \"C\" __attribute__((visibility(\"hidden\"))) const unsigned char "
           "xinhe_ze_spirv_"
        << i << "[], xinhe_ze_spirv_" << i << "_end[];\n";
  out << "\nnamespace xinhe::level_zero {\nnamespace {\n";
  out << "struct Image {\n  const char* program;\n  const char* options;\n"
         "  const unsigned char* begin;\n  const unsigned char* end;\n};\n";
  out << "const Image kImages[] = {\n";
  for (size_t i = 0; i < variants.size(); ++i)
    out << "    {\"" << variants[i].program << "\", \"" << escape(variants[i].options)
        << "\", xinhe_ze_spirv_" << i << ", xinhe_ze_spirv_" << i << "_end},\n";
  out << "};\n";
  out << "constexpr size_t kCount = sizeof(kImages) / sizeof(kImages[0]);\n"
         "struct Table {\n  size_t sizes[kCount];\n  SpirvProgram programs[kCount];\n"
         "  Table() {\n    for (size_t i = 0; i < kCount; ++i) {\n"
         "      sizes[i] = static_cast<size_t>(kImages[i].end - kImages[i].begin);\n"
         "      programs[i] = {kImages[i].program, kImages[i].options, kImages[i].begin, "
         "&sizes[i]};\n    }\n  }\n};\n"
         "const Table& table() {\n  static const Table t;\n  return t;\n}\n}  // namespace\n\n";
  out << "const SpirvProgram* spirv_programs(size_t* count) {\n  *count = kCount;\n"
         "  return table().programs;\n}\n\n";
  out << "const SpirvProgram* find_spirv_program(const std::string& program,\n"
         "                                       const std::string& options) {\n"
         "  for (const SpirvProgram& p : table().programs)\n"
         "    if (program == p.program && options == p.options) return &p;\n"
         "  return nullptr;\n}\n\n}  // namespace xinhe::level_zero\n";
  const std::string tmp = o.output + ".tmp";
  {
    std::ofstream f(tmp);
    f << out.str();
    if (!f) return usage(("cannot write " + tmp).c_str());
  }
  if (std::rename(tmp.c_str(), o.output.c_str()) != 0) return usage("cannot rename the output");
  std::printf("xinhe-level-zero-spirv-compiler: %zu SPIR-V variants validated and embedded\n",
              variants.size());
  return 0;
}
