#!/bin/sh
# Killing xinhe-bench takes its child processes with it: the per-thread-count run and, below
# it, the PyTorch peer. Here the peer is a stand-in interpreter that says it is ready and then
# hangs (as a slow PyTorch matmul does); after the bench gets SIGNAL (TERM by default, or INT)
# the peer must be gone within 5 s, the bench must have died by that signal, and the temporary
# files of the bench, its child and the peer (under TMPDIR) must be gone.
# Usage: children_die_with_bench.sh XINHE_BENCH [TERM|INT]
set -u
bench=$1
sig=${2:-TERM}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/tmp"
cat > "$dir/python" <<SCRIPT
#!/bin/sh
echo \$\$ > "$dir/peer.pid"
echo '{"ready": true, "torch": "0.0+hang", "threads": 1}'
exec sleep 600
SCRIPT
chmod +x "$dir/python"
TMPDIR="$dir/tmp" "$bench" --devices cpu:0 --compare --threads 1 --warmup 0 --runs 1 --op gemm \
  --gemm 16x16x16 --python "$dir/python" > /dev/null 2>&1 &
bench_pid=$!
for _ in $(seq 300); do [ -s "$dir/peer.pid" ] && break; sleep 0.1; done
if [ ! -s "$dir/peer.pid" ]; then
  echo "FAIL: the stand-in PyTorch peer never started"
  kill "$bench_pid" 2> /dev/null
  exit 1
fi
peer=$(cat "$dir/peer.pid")
# The peer's input files are written before its first request: wait for them.
for _ in $(seq 50); do ls "$dir/tmp" | grep -q xinhe-bench-torch-in && break; sleep 0.1; done
for stem in xinhe-bench-shapes xinhe-bench-child xinhe-bench-torch-in; do
  if ! ls "$dir/tmp" | grep -q "^$stem-"; then
    echo "FAIL: no $stem-* file under TMPDIR while the bench runs: $(ls "$dir/tmp")"
    kill -KILL "$bench_pid" "$peer" 2> /dev/null
    exit 1
  fi
done
kill -"$sig" "$bench_pid"
wait "$bench_pid"
status=$?
case $sig in TERM) want=143 ;; INT) want=130 ;; *) echo "FAIL: signal $sig"; exit 1 ;; esac
for _ in $(seq 50); do
  if ! kill -0 "$peer" 2> /dev/null; then
    if [ "$status" -ne "$want" ]; then
      echo "FAIL: the bench exited with $status, not by SIG$sig ($want)"
      exit 1
    fi
    left=$(ls "$dir/tmp")
    if [ -n "$left" ]; then
      echo "FAIL: SIG$sig left temporary files: $left"
      exit 1
    fi
    echo "ok: the peer (pid $peer) ended with the bench (SIG$sig), no temporary file left"
    exit 0
  fi
  sleep 0.1
done
echo "FAIL: the peer (pid $peer) outlived the killed bench"
kill -KILL "$peer" 2> /dev/null
exit 1
