#!/bin/sh
# Command-line behaviour of xinhe-bench and its scripts, one check per ctest test (each found
# broken by an audit; docs/bench-format.md describes the fixed behaviour). Tiny shapes only.
# Usage: cli_checks.sh CHECK XINHE_BENCH PYTHON SOURCE_DIR
set -u
check=$1 bench=$2 py=$3 src=$4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1

fail() {
  echo "FAIL: $*"
  exit 1
}

# expect_exit STATUS ARGS...: runs the bench, keeps stdout/stderr in out.txt/err.txt.
expect_exit() {
  want=$1
  shift
  "$bench" "$@" > out.txt 2> err.txt
  got=$?
  [ "$got" -eq "$want" ] || fail "xinhe-bench $* exited $got, expected $want; stderr: $(tail -3 err.txt)"
}

# json_query FILE EXPR: prints the Python expression EXPR evaluated on the JSON object d.
json_query() {
  "$py" -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1"
}

case $check in
oversized_case)
  # A case too big for the machine is refused up front (the estimate), one that exhausts a
  # ulimit fails on std::bad_alloc: either way an errors record naming the case, and the
  # cases before and after it still run and are written. Under the sanitizers (which reserve
  # terabytes of shadow memory, so ulimit -v stops them at start) only the estimate is checked.
  cases="3000000000x3000000000x1 1x1x150000000"
  if [ -n "${XINHE_BENCH_SANITIZED:-}" ]; then
    cases="3000000000x3000000000x1"
    echo "std::bad_alloc half not run: ulimit -v cannot be used under -fsanitize=$XINHE_BENCH_SANITIZED"
  fi
  for big in $cases; do
    rm -f big.json
    limit=unlimited
    [ "$big" = 1x1x150000000 ] && limit=1000000
    (ulimit -v "$limit"; "$bench" --devices cpu:0 --gemm 8x8x8 "$big" 16x16x16 --quick \
      --json big.json > out.txt 2> err.txt)
    rc=$?
    [ "$rc" -eq 1 ] || fail "$big: exit $rc, expected 1; stderr: $(tail -3 err.txt)"
    [ -s big.json ] || fail "$big: no JSON written; stderr: $(tail -3 err.txt)"
    got=$(json_query big.json "sorted(r['shape_text'] for r in d['results']), [(e['shape_text'], e['code']) for e in d['errors']]")
    [ "$got" = "['16x16x16', '8x8x8'] [('$big', 'OUT_OF_MEMORY')]" ] || fail "$big: records $got"
    grep -q "FAILED: .*$big.*host memory" out.txt || fail "$big: the table does not name the case"
  done
  echo "ok: oversized cases are recorded and the run goes on"
  ;;
torch_timing_documented)
  # Every timing value the bench writes (the PyTorch peer's included, on the stand-in torch)
  # is one that docs/bench-format.md lists in its field table.
  export PYTHONPATH="$src/tools/xinhe-bench/testing/fake_torch" XINHE_BENCH_PYTHON="$py"
  expect_exit 0 --devices cpu:0 --compare --quick --dtypes f32 --gemm 8x8x8 --json t.json
  values=$(json_query t.json "'\n'.join(sorted(set(r['timing'] for r in d['results'])))")
  echo "$values" | grep -q "PyTorch" || fail "no PyTorch row timed: $values"
  row=$(grep '^| `timing` |' "$src/docs/bench-format.md")
  echo "$values" | while read -r v; do
    case $row in *"\"$v\""*) ;; *) fail "timing \"$v\" is not in the doc's row: $row" ;; esac
  done || exit 1
  echo "ok: every timing value is documented"
  ;;
noisy_rows)
  # A row whose median is more than twice its fastest run is flagged (JSON "noisy", "~" after
  # the median, a footnote): on a busy machine a 2-thread oneDNN GEMM once measured a 7.9 ms
  # median with a 0.065 ms fastest run, a 120x ratio nothing questioned. The stand-in torch's
  # matmul sleeps 50 ms on every call after its first two (the checked one and one timed one).
  export PYTHONPATH="$src/tools/xinhe-bench/testing/fake_torch" XINHE_BENCH_PYTHON="$py"
  XINHE_FAKE_TORCH_NOISE=1 expect_exit 0 --devices cpu:0 --compare --threads 1 --warmup 0 \
    --runs 5 --dtypes f32 --gemm 8x8x8 --json n.json
  got=$(json_query n.json "[(r['impl'], r['noisy']) for r in d['results'] if r['impl'].startswith('torch')]")
  [ "$got" = "[('torch-matmul', True)]" ] || fail "torch row not flagged noisy: $got"
  grep -q "torch-matmul .*[0-9]~ " out.txt || fail "no ~ after the noisy median: $(cat out.txt)"
  grep -q "^~ median more than twice the fastest run" out.txt || fail "no footnote: $(cat out.txt)"
  expect_exit 0 --devices cpu:0 --threads 1 --warmup 0 --runs 1 --dtypes f32 --gemm 8x8x8 \
    --json one.json
  [ "$(json_query one.json "d['results'][0]['noisy']")" = "False" ] || fail "one run flagged noisy"
  echo "ok: noisy rows are flagged"
  ;;
shape_backend)
  # @backend in a shape file: unknown names and device names are refused with file:line, two
  # on one line are refused, and a file leaving no case for the selected devices exits 2.
  printf 'gemm 8x8x8 f32 @nosuch\n' > nosuch.txt
  expect_exit 2 --shapes nosuch.txt --quick --devices cpu:0
  grep -q "nosuch.txt:1: '@nosuch': no backend of that name" err.txt || fail "$(cat err.txt)"
  printf '# comment\ngemm 8x8x8 f32 @cpu:0\n' > device.txt
  expect_exit 2 --shapes device.txt --quick --devices cpu:0
  grep -q "device.txt:2: '@cpu:0' is a device name.*@cpu" err.txt || fail "$(cat err.txt)"
  printf 'gemm 8x8x8 f32 @cpu @opencl\n' > two.txt
  expect_exit 2 --shapes two.txt --quick --devices cpu:0
  grep -q "two.txt:1: .*one @backend" err.txt || fail "$(cat err.txt)"
  printf 'gemm 8x8x8 f32 @opencl\n' > other.txt
  expect_exit 2 --shapes other.txt --quick --devices cpu:0
  grep -q "no case left for the selected devices" err.txt || fail "$(cat err.txt)"
  # One case left: it runs, and the other is named as not run.
  printf 'gemm 8x8x8 f32 @opencl\ngemm 16x16x16 f32 @cpu\n' > mixed.txt
  expect_exit 0 --shapes mixed.txt --quick --devices cpu:0
  grep -q "mixed.txt:1: not run: no selected device (cpu:0) is of backend 'opencl'" err.txt ||
    fail "$(cat err.txt)"
  grep -q "16x16x16" out.txt || fail "the @cpu case did not run"
  echo "ok: @backend is checked"
  ;;
output_paths)
  # A --json path that cannot be written is refused before any case runs; "" is refused; a
  # table that cannot be written to stdout fails the run.
  expect_exit 2 --devices cpu:0 --gemm 8x8x8 --quick --json /nonexistent/dir/x.json
  grep -q "/nonexistent/dir" err.txt || fail "no reason: $(cat err.txt)"
  ! grep -q "timing" err.txt || fail "cases ran before the --json check"
  expect_exit 2 --devices cpu:0 --gemm 8x8x8 --quick --json ""
  mkdir folder
  expect_exit 2 --devices cpu:0 --gemm 8x8x8 --quick --json folder
  if [ -w /dev/full ]; then
    "$bench" --devices cpu:0 --gemm 8x8x8 --quick > /dev/full 2> err.txt
    rc=$?
    [ "$rc" -eq 1 ] || fail ">/dev/full: exit $rc, expected 1"
    grep -q "cannot write the table to stdout" err.txt || fail "$(cat err.txt)"
  fi
  echo "ok: output paths are checked"
  ;;
backend_reason)
  # A cpu backend refused by its variable is named with the reason; --threads sets the
  # variable per child, so the bench's own invalid value does not matter then.
  export XINHE_CPU_THREADS=0
  expect_exit 2 --devices cpu:0 --gemm 8x8x8 --quick
  grep -q "cpu:0: the cpu backend is unavailable: .*XINHE_CPU_THREADS" err.txt || fail "$(cat err.txt)"
  "$bench" --gemm 8x8x8 --quick > out.txt 2> err.txt
  grep -q "the cpu backend is unavailable: .*XINHE_CPU_THREADS" err.txt || fail "default devices: $(cat err.txt)"
  expect_exit 0 --devices cpu:0 --gemm 8x8x8 --quick --threads 1
  grep -q "gemm .* 8x8x8 .* cpu:0 .* 1 xinhe" out.txt || fail "no cpu row with --threads: $(cat out.txt)"
  echo "ok: backend load failures are explained"
  ;;
child_killed)
  # A --threads child killed by a signal is one honest errors record: no made-up case.
  cat > python <<SCRIPT
#!/bin/sh
echo \$PPID > "$dir/child.pid"
echo '{"ready": true, "torch": "0.0+hang", "threads": 1}'
exec sleep 600
SCRIPT
  chmod +x python
  "$bench" --devices cpu:0 --compare --threads 1 --quick --op gemm --gemm 8x8x8 \
    --python "$dir/python" --json k.json > out.txt 2> err.txt &
  bench_pid=$!
  for _ in $(seq 300); do [ -s child.pid ] && break; sleep 0.1; done
  [ -s child.pid ] || { kill "$bench_pid"; fail "the stand-in PyTorch peer never started"; }
  kill -KILL "$(cat child.pid)"
  wait "$bench_pid"
  rc=$?
  [ "$rc" -eq 1 ] || fail "exit $rc, expected 1"
  got=$(json_query k.json "[(e['op'], e['dtype'], e['shape'], e['impl'], e['threads'], e['device']) for e in d['errors']]")
  [ "$got" = "[(None, None, None, None, 1, 'cpu:0')]" ] || fail "errors: $got"
  grep -q '"reason": "the child process .* 1 thread(s) was killed by signal 9 (SIGKILL)' k.json ||
    fail "reason: $(grep reason k.json)"
  grep -q "^FAILED: every case on cpu:0 threads=1: the child process" out.txt ||
    fail "table: $(tail -2 out.txt)"
  echo "ok: a killed child is recorded as such"
  ;;
summary_bad_input)
  # bench-summary.py names the file and the missing field instead of a traceback.
  echo '{"results":[{"junk":1}]}' > junk.json
  "$py" "$src/scripts/bench-summary.py" junk.json > out.txt 2> err.txt
  rc=$?
  [ "$rc" -eq 2 ] || fail "exit $rc, expected 2: $(cat err.txt)"
  grep -q "junk.json: results\[0\] has no 'op'" err.txt || fail "$(cat err.txt)"
  ! grep -q Traceback err.txt || fail "traceback: $(cat err.txt)"
  echo '[1]' > list.json
  "$py" "$src/scripts/bench-summary.py" list.json > out.txt 2> err.txt
  [ $? -eq 2 ] && grep -q "list.json" err.txt || fail "a non-object file: $(cat err.txt)"
  echo "ok: bench-summary refuses malformed files"
  ;;
bench_sh_help)
  # scripts/bench.sh --help prints its usage at once: no installing, configuring or building.
  mkdir -p tree/scripts
  cp "$src/scripts/bench.sh" tree/scripts/
  for s in install-deps.sh python-env.sh; do
    printf '#!/bin/sh\ntouch "%s/ran-%s"\nexit 1\n' "$dir" "$s" > "tree/scripts/$s"
    chmod +x "tree/scripts/$s"
  done
  mkdir bin
  printf '#!/bin/sh\ntouch "%s/ran-cmake"\nexit 1\n' "$dir" > bin/cmake
  chmod +x bin/cmake
  PATH="$dir/bin:$PATH" bash tree/scripts/bench.sh --help > out.txt 2> err.txt
  rc=$?
  [ "$rc" -eq 0 ] || fail "exit $rc: $(cat out.txt err.txt)"
  ! ls ran-* > /dev/null 2>&1 || fail "it ran $(ls ran-*)"
  grep -q -- "--python" out.txt || fail "the script's own options are missing: $(cat out.txt)"
  grep -q "xinhe-bench --help" out.txt || fail "no pointer to xinhe-bench's options: $(cat out.txt)"
  echo "ok: bench.sh --help"
  ;;
command_line)
  # Malformed lists and values are refused (exit 2) naming the value; repeats are dropped.
  for args in "--gemm 4x4x4:" "--gemm 4x4x+4" "--threads 1,,2" "--op ," "--dtypes f32," \
              "--peer-max-seconds nan" "--threads 0"; do
    # shellcheck disable=SC2086
    expect_exit 2 --devices cpu:0 --quick --gemm 8x8x8 $args
    value=${args#* }
    grep -q -F "$value" err.txt || fail "$args: the message does not name '$value': $(cat err.txt)"
  done
  expect_exit 2 --devices cpu:0 --quick --gemm 8x8x8 --op ""
  expect_exit 2 --devices cpu:0 --quick --gemm 8x8x8 --dtypes ""
  expect_exit 0 --dtypes f32,f32 --devices cpu:0,cpu:0 --threads 1,1 --gemm 8x8x8 --quick --json d.json
  n=$(json_query d.json "len(d['results'])")
  [ "$n" -eq 1 ] || fail "repeated values ran $n times"
  echo "ok: command-line values are checked"
  ;;
nothing_measured)
  # An op of which every xinhe configuration was skipped (a typo in XINHE_GEMM_IMPL or
  # XINHE_ATTENTION_IMPL) measured nothing: exit 1 with the skip reason, JSON still written.
  # Peers that are skipped (no PyTorch here) leave the exit status at 0.
  XINHE_GEMM_IMPL=openbals expect_exit 1 --devices cpu:0 --gemm 8x8x8 --quick --json t.json
  grep -q "nothing was measured for xinhe gemm: all 1 of its configuration" err.txt || fail "$(cat err.txt)"
  grep -q "^  .*none is named like XINHE_GEMM_IMPL='openbals'" err.txt || fail "no reason: $(cat err.txt)"
  [ "$(json_query t.json "len(d['results']), len(d['skipped'])")" = "0 1" ] || fail "$(cat t.json)"
  # Attention skipped, GEMM measured: still nothing measured for attention.
  XINHE_ATTENTION_IMPL=flahs expect_exit 1 --devices cpu:0 --gemm 8x8x8 --attention 1x2x2x8x8x16 --quick
  grep -q "nothing was measured for xinhe attention" err.txt || fail "$(cat err.txt)"
  ! grep -q "nothing was measured for xinhe gemm" err.txt || fail "gemm was measured: $(cat err.txt)"
  grep -q "XINHE_ATTENTION_IMPL='flahs' is set" err.txt || fail "$(cat err.txt)"
  expect_exit 0 --devices cpu:0 --compare --python /bin/false --dtypes f16 --gemm 8x8x8 --quick
  grep -q "torch-matmul threads=.*: skipped" err.txt || fail "no peer skipped: $(cat err.txt)"
  echo "ok: a run that measured nothing for an op fails"
  ;;
shapes_source)
  # --shapes "" is refused; a folder and a file without cases are named as such; a preset name
  # always means the preset (a note when a file of that name is here), ./NAME the file.
  expect_exit 2 --devices cpu:0 --quick --shapes ""
  grep -q -- "--shapes '': needs a shape file or a preset" err.txt || fail "$(cat err.txt)"
  mkdir folder
  expect_exit 2 --devices cpu:0 --quick --shapes folder
  grep -q -- "--shapes 'folder': is a folder" err.txt || fail "$(cat err.txt)"
  : > empty.txt
  printf '# only a comment\n\n' > comments.txt
  for f in empty.txt comments.txt; do
    expect_exit 2 --devices cpu:0 --quick --shapes $f
    grep -q -- "--shapes '$f': has no cases" err.txt || fail "$(cat err.txt)"
    ! grep -q -- "--op/--dtypes" err.txt || fail "blames filters: $(cat err.txt)"
  done
  expect_exit 2 --devices cpu:0 --quick --shapes nosuch
  grep -q -- "--shapes 'nosuch': No such file.*not a preset (default," err.txt || fail "$(cat err.txt)"
  echo 'gemm 8x8x8 f32' > quick
  expect_exit 0 --devices cpu:0 --quick --op gemm --dtypes f32 --shapes quick
  grep -q "33x47x29" out.txt && ! grep -q " 8x8x8 " out.txt || fail "not the preset: $(cat out.txt)"
  grep -q -- "--shapes quick: the preset 'quick'.*./quick" err.txt || fail "no note: $(cat err.txt)"
  expect_exit 0 --devices cpu:0 --quick --shapes ./quick
  grep -q " 8x8x8 " out.txt && ! grep -q "33x47x29" out.txt || fail "not the file: $(cat out.txt)"
  echo "ok: --shapes sources are checked"
  ;;
repeated_cases)
  # A shape given twice (in one list, in two options, spelled two ways, or on two lines of a
  # shape file) is measured once; a file's repeated line adds its dtypes to the first.
  expect_exit 0 --devices cpu:0 --quick --gemm 8x8x8,8x8x8 --gemm 8x8x8x1:nn,8x8x16 \
    --attention 1x2x2x8x8x16,1x2x2x8x8x16 --json r.json
  got=$(json_query r.json "[(r['op'], r['shape_text']) for r in d['results']]")
  [ "$got" = "[('gemm', '8x8x8'), ('gemm', '8x8x16'), ('attention', '1x2x2x8x8x16')]" ] ||
    fail "results: $got"
  printf 'gemm 8x8x8 f32\ngemm 8x8x8 f32,bf16\n' > twice.txt
  expect_exit 0 --devices cpu:0 --quick --shapes twice.txt --json f.json
  got=$(json_query f.json "[(r['shape_text'], r['dtype']) for r in d['results']]")
  [ "$got" = "[('8x8x8', 'f32'), ('8x8x8', 'bf16')]" ] || fail "file results: $got"
  echo "ok: repeated cases run once"
  ;;
messages)
  # The progress line names the implementations timed side by side (a bare count read like a
  # number of timed runs).
  expect_exit 0 --devices cpu:0 --compare --python /bin/false --gemm 8x8x8 --quick
  grep -q "gemm f32 8x8x8 cpu:0 threads=[0-9]*: timing xinhe, openblas, onednn side by side \.\.\." err.txt ||
    fail "$(grep timing err.txt)"
  expect_exit 0 --devices cpu:0 --gemm 8x8x8 --quick
  grep -q "threads=[0-9]*: timing xinhe \.\.\." err.txt || fail "$(grep timing err.txt)"
  echo "ok: progress lines read well"
  ;;
peer_sigint_quiet)
  # Ctrl-C (SIGINT to the whole process group) while the PyTorch peer is in a call: the bench
  # dies by SIGINT and the peer prints no KeyboardInterrupt traceback.
  export PYTHONPATH="$src/tools/xinhe-bench/testing/fake_torch" XINHE_FAKE_TORCH_HANG="$dir/hang.pid"
  # sh starts a background command with SIGINT ignored, which its children would inherit; a
  # terminal's Ctrl-C finds it caught. So: SIGINT back to default, in a group of its own.
  "$py" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.setsid()
os.execv(sys.argv[1], sys.argv[1:])' "$bench" --devices cpu:0 --compare --quick --op gemm \
    --gemm 8x8x8 --python "$py" > out.txt 2> err.txt &
  bench_pid=$!
  for _ in $(seq 300); do [ -s hang.pid ] && break; sleep 0.1; done
  [ -s hang.pid ] || { kill "$bench_pid"; fail "the stand-in PyTorch call never started: $(cat err.txt)"; }
  pgid=$(cut -d' ' -f5 "/proc/$bench_pid/stat")
  [ "$pgid" = "$bench_pid" ] || { kill "$bench_pid"; fail "the bench does not lead its process group"; }
  kill -INT "-$bench_pid" || { kill -KILL "$bench_pid"; fail "cannot signal the group"; }
  wait "$bench_pid"
  rc=$?
  [ "$rc" -eq 130 ] || fail "exit $rc, expected 130 (SIGINT): $(tail -3 err.txt)"
  ! grep -q "Traceback\|KeyboardInterrupt" err.txt || fail "traceback: $(cat err.txt)"
  echo "ok: Ctrl-C leaves no PyTorch traceback"
  ;;
summary_checks)
  # bench-summary.py: a failed check is marked FAIL, left out of the medians and exits 1; a
  # median_ms of 0 is a named error (exit 2); a closed pipe ends it quietly; files made by
  # different commands are warned about.
  "$py" - <<'PY'
import json
def result(impl, ms, passed=True, shape="8x8x8", threads=1):
    return {"op": "gemm", "dtype": "f32", "shape_text": shape, "device": "cpu:0", "impl": impl,
            "threads": threads, "median_ms": ms, "tflops": 1e-3 / ms if ms else 0.0, "pct_of_peak": 10.0,
            "check": {"passed": passed, "tolerance": 1e-4}}
def save(name, results, runs=10):
    json.dump({"xinhe_version": "0.1.0", "host": {"cpu_model": "x"},
               "settings": {"warmup": 2, "runs": runs}, "results": results, "skipped": [],
               "errors": []}, open(name, "w"))
save("a.json", [result("xinhe", 1.0), result("openblas", 2.0)])
save("fail.json", [result("xinhe", 1.0, passed=False), result("openblas", 3.0)])
save("zero.json", [result("xinhe", 0.0), result("openblas", 2.0)])
save("other.json", [result("xinhe", 1.0), result("openblas", 2.0)], runs=3)
save("many.json", [result(impl, 1.0, shape="%dx8x8" % i) for i in range(1, 3000)
                   for impl in ("xinhe", "openblas")])
PY
  summary="$src/scripts/bench-summary.py"
  "$py" "$summary" a.json fail.json > out.txt 2> err.txt
  rc=$?
  [ "$rc" -eq 1 ] || fail "a failed check: exit $rc, expected 1: $(cat err.txt)"
  grep -q "openblas *2.00 / FAIL *2.00x" out.txt || fail "no FAIL mark: $(cat out.txt)"
  grep -q "fail.json: results\[0\] (gemm f32 8x8x8 cpu:0 xinhe threads=1) FAILED its check" err.txt ||
    fail "$(cat err.txt)"
  "$py" "$summary" zero.json > out.txt 2> err.txt
  rc=$?
  [ "$rc" -eq 2 ] || fail "median_ms 0: exit $rc, expected 2: $(cat err.txt)"
  grep -q "zero.json: results\[0\] 'median_ms' is 0.0, not a positive number" err.txt || fail "$(cat err.txt)"
  ! grep -q Traceback err.txt || fail "traceback: $(cat err.txt)"
  "$py" "$summary" many.json 2> err.txt | head -1 > /dev/null
  ! grep -q "Traceback\|BrokenPipe" err.txt || fail "closed pipe: $(cat err.txt)"
  "$py" "$summary" a.json other.json > out.txt 2> err.txt
  rc=$?
  [ "$rc" -eq 0 ] || fail "differing files: exit $rc: $(cat err.txt)"
  grep -q "warning: the files differ in settings.*\"runs\": 10.* in a.json.*\"runs\": 3.* in other.json" err.txt ||
    fail "no warning: $(cat err.txt)"
  "$py" "$summary" a.json a.json > out.txt 2> err.txt
  [ ! -s err.txt ] || fail "warned on identical files: $(cat err.txt)"
  echo "ok: bench-summary checks what it summarises"
  ;;
*)
  fail "unknown check '$check'"
  ;;
esac
