#!/bin/sh
# Killing xinhe-bench takes its child processes with it: the per-thread-count run and, below
# it, the PyTorch peer. Here the peer is a stand-in interpreter that says it is ready and then
# hangs (as a slow PyTorch matmul does); after the bench is killed it must be gone within 5 s.
# Usage: children_die_with_bench.sh XINHE_BENCH
set -u
bench=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/python" <<SCRIPT
#!/bin/sh
echo \$\$ > "$dir/peer.pid"
echo '{"ready": true, "torch": "0.0+hang", "threads": 1}'
exec sleep 600
SCRIPT
chmod +x "$dir/python"
"$bench" --devices cpu:0 --compare --threads 1 --warmup 0 --runs 1 --op gemm --gemm 16x16x16 \
  --python "$dir/python" > /dev/null 2>&1 &
bench_pid=$!
for _ in $(seq 300); do [ -s "$dir/peer.pid" ] && break; sleep 0.1; done
if [ ! -s "$dir/peer.pid" ]; then
  echo "FAIL: the stand-in PyTorch peer never started"
  kill "$bench_pid" 2> /dev/null
  exit 1
fi
peer=$(cat "$dir/peer.pid")
kill -TERM "$bench_pid"
for _ in $(seq 50); do
  if ! kill -0 "$peer" 2> /dev/null; then
    echo "ok: the peer (pid $peer) ended with the bench"
    exit 0
  fi
  sleep 0.1
done
echo "FAIL: the peer (pid $peer) outlived the killed bench"
kill -KILL "$peer" 2> /dev/null
exit 1
