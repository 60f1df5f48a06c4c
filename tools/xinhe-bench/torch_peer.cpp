// The PyTorch child process and its measurement (see torch_peer.h). One child per bench
// process, started on first use and kept for every case; it reads one JSON request per line
// on stdin and answers one line on stdout (protocol in torch_peer.py). Inputs go through
// temporary files in the case's dtype, the output comes back the same way and is checked
// against the float64 reference like every other row.
#include "torch_peer.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cleanup.h"
#include "torch_peer_script.h"

namespace xinhe::bench {
namespace {

using json = nlohmann::json;

std::string g_python;
int g_threads = 1;
double g_max_call_ms = 0.0;  // 0: no limit

class TorchChild {
 public:
  // Starts the interpreter; unavailable() says why when it did not come up with torch.
  TorchChild() {
    const std::string python = !g_python.empty() ? g_python
                               : std::getenv("XINHE_BENCH_PYTHON") != nullptr
                                   ? std::getenv("XINHE_BENCH_PYTHON")
                                   : "python3";
    python_ = python;
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) {
      unavailable_ = "cannot create pipes for the PyTorch child";
      return;
    }
    signal(SIGPIPE, SIG_IGN);  // a child that dies must not take the bench with it
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) {
      unavailable_ = "fork failed";
      return;
    }
    if (pid_ == 0) {
      die_with_parent(parent);
      dup2(to_child[0], 0);
      dup2(from_child[1], 1);
      close(to_child[1]);
      close(from_child[0]);
      const std::string threads = std::to_string(g_threads);
      setenv("XINHE_BENCH_TORCH_THREADS", threads.c_str(), 1);
      setenv("OMP_NUM_THREADS", threads.c_str(), 1);
      setenv("MKL_NUM_THREADS", threads.c_str(), 1);
      execlp(python.c_str(), python.c_str(), "-c", kTorchPeerScript, static_cast<char*>(nullptr));
      std::fprintf(stdout, "{\"ready\": false, \"reason\": \"cannot run %s\"}\n", python.c_str());
      std::fflush(stdout);
      _exit(127);
    }
    track_child(pid_);
    close(to_child[0]);
    close(from_child[1]);
    in_ = fdopen(to_child[1], "w");
    out_ = fdopen(from_child[0], "r");
    json hello;
    if (!read(&hello)) {
      unavailable_ = fmt::format("{} exited before answering", python);
    } else if (!hello.value("ready", false)) {
      unavailable_ = hello.value("reason", std::string("the PyTorch child is not ready"));
    } else {
      version_ = hello.value("torch", std::string("?"));
    }
  }

  ~TorchChild() {
    if (in_ != nullptr) {
      std::fputs("{\"cmd\": \"quit\"}\n", in_);
      std::fclose(in_);
    }
    if (out_ != nullptr) std::fclose(out_);
    if (pid_ > 0) {
      waitpid(pid_, nullptr, 0);
      forget_child(pid_);
    }
  }

  const std::string& unavailable() const { return unavailable_; }

  // One request, one reply; false when the child is gone.
  bool call(const json& request, json* reply) {
    if (!unavailable_.empty()) return false;
    const std::string line = request.dump() + "\n";
    if (std::fputs(line.c_str(), in_) < 0 || std::fflush(in_) != 0) return lost();
    if (!read(reply)) return lost();
    return true;
  }

 private:
  bool read(json* reply) {
    std::string line;
    for (int c; (c = std::fgetc(out_)) != EOF;) {
      if (c == '\n') {
        try {
          *reply = json::parse(line);
          return true;
        } catch (const std::exception&) {
          line.clear();  // not ours (a library printing to stdout): keep reading
          continue;
        }
      }
      line.push_back(static_cast<char>(c));
    }
    return false;
  }

  bool lost() {
    unavailable_ = fmt::format("the PyTorch child ({}) exited", python_);
    return false;
  }

  std::string python_, version_, unavailable_;
  pid_t pid_ = -1;
  FILE* in_ = nullptr;
  FILE* out_ = nullptr;
};

TorchChild& child() {
  static TorchChild c;
  return c;
}

std::string temp_file(const char* stem) {
  return make_temp_file(fmt::format("xinhe-bench-torch-{}", stem));
}

// Enough digits to be nonzero: PyTorch calls on tiny shapes take microseconds.
std::string format_ms(double ms) {
  return ms >= 100 ? fmt::format("{:.0f} ms", ms) : fmt::format("{:.3g} ms", ms);
}

json shape_of(const BenchCase& c) {
  if (c.op == Op::kGemm) {
    const GemmShape& g = c.gemm;
    return json{{"m", g.m},
                {"n", g.n},
                {"k", g.k},
                {"batch", g.batch},
                {"trans_a", g.trans_a},
                {"trans_b", g.trans_b}};
  }
  const AttentionShape& a = c.attention;
  return json{{"b", a.batch},    {"hq", a.heads_q}, {"hkv", a.heads_kv}, {"sq", a.seq_q},
              {"skv", a.seq_kv}, {"d", a.head_dim}, {"causal", a.causal}};
}

class TorchMeasurement final : public Measurement {
 public:
  ~TorchMeasurement() override {
    for (const std::string& p : files_) {
      std::remove(p.c_str());
      forget_temp_file(p);
    }
  }

  // Sets up the case in the child and checks one run; false with *skip when PyTorch cannot.
  bool prepare(CaseData& data, std::string* skip) {
    const BenchCase& c = data.bench_case();
    std::vector<std::string> inputs;
    for (size_t i = 0; i < data.inputs().size(); ++i) {
      files_.push_back(temp_file("in"));
      std::ofstream out(files_.back(), std::ios::binary);
      out.write(reinterpret_cast<const char*>(data.inputs()[i].data()),
                static_cast<std::streamsize>(data.inputs()[i].size()));
      if (!out) throw std::runtime_error("cannot write the PyTorch peer's input file");
      inputs.push_back(files_.back());
    }
    files_.push_back(temp_file("out"));
    const std::string output = files_.back();
    json reply;
    if (!child().call(json{{"cmd", "case"},
                           {"op", op_name(c.op)},
                           {"dtype", xinhe_dtype_name(data.dtype())},
                           {"shape", shape_of(c)},
                           {"inputs", inputs},
                           {"output", output}},
                      &reply)) {
      *skip = child().unavailable();
      return false;
    }
    if (!reply.value("ok", false)) {
      *skip = reply.value("skip", reply.value("error", std::string("PyTorch refused the case")));
      return false;
    }
    result.impl_detail = reply.value("detail", std::string());
    const double first_ms = timed_run_ms();
    // Over the limit: the row is not reported, so its output is not fetched or checked either.
    if (g_max_call_ms > 0.0 && first_ms > g_max_call_ms) {
      *skip = fmt::format("one PyTorch call took {}, over --peer-max-seconds {:g} ({}): not timed",
                          format_ms(first_ms), g_max_call_ms / 1e3, format_ms(g_max_call_ms));
      return false;
    }
    if (!child().call(json{{"cmd", "output"}}, &reply) || !reply.value("ok", false)) {
      throw std::runtime_error("the PyTorch peer did not write its output");
    }
    std::ifstream in(output, std::ios::binary);
    std::vector<unsigned char> host(data.output_bytes());
    in.read(reinterpret_cast<char*>(host.data()), static_cast<std::streamsize>(host.size()));
    if (in.gcount() != static_cast<std::streamsize>(host.size())) {
      throw std::runtime_error("the PyTorch peer's output is short");
    }
    result.check = data.check(host.data());
    result.timing = "host wall (in the PyTorch process)";
    return true;
  }

  void warm_up() override { timed_run_ms(); }

  double timed_run_ms() override {
    json reply;
    if (!child().call(json{{"cmd", "run"}}, &reply) || !reply.contains("ms")) {
      throw std::runtime_error(child().unavailable().empty()
                                   ? reply.value("error", std::string("PyTorch run failed"))
                                   : child().unavailable());
    }
    return reply["ms"].get<double>();
  }

 private:
  std::vector<std::string> files_;
};

}  // namespace

void die_with_parent(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);  // died between fork() and prctl()
}

void configure_torch_peer(const std::string& python, int threads, double max_call_seconds) {
  g_python = python;
  g_threads = threads;
  g_max_call_ms = max_call_seconds * 1e3;
}

std::unique_ptr<Measurement> prepare_torch(const std::string& device_name, CaseData& data,
                                           Problem* problem) {
  const BenchCase& c = data.bench_case();
  const char* impl = c.op == Op::kGemm ? kTorchMatmul : kTorchSdpa;
  *problem = Problem{c.op, device_name, impl, data.dtype(), c, "UNIMPLEMENTED", "", std::nullopt};
  if (!child().unavailable().empty()) {
    problem->reason = child().unavailable();
    return nullptr;
  }
  auto m = std::make_unique<TorchMeasurement>();
  m->result.op = c.op;
  m->result.device = device_name;
  m->result.backend = "cpu";
  m->result.impl = impl;
  m->result.dtype = data.dtype();
  m->result.shape = c;
  std::string skip;
  if (!m->prepare(data, &skip)) {
    problem->reason = skip;
    return nullptr;
  }
  return m;
}

}  // namespace xinhe::bench
