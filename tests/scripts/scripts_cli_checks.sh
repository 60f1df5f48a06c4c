#!/usr/bin/env bash
# Runs copies of scripts/*.sh in a scratch tree where install-deps.sh, python-env.sh, cmake,
# ctest, dpkg-query, apt-get and sudo are stand-ins that only leave a marker file, so a check
# sees whether a script started any work. Usage: scripts_cli_checks.sh SOURCE_DIR
set -u
src=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
fail() {
  echo "FAIL: $*"
  exit 1
}

mkdir -p tree/scripts bin
stand_in() {  # stand_in PATH NAME: a program that records that it ran and succeeds
  printf '#!/bin/sh\ntouch "%s/ran-%s"\nexit 0\n' "$dir" "$2" > "$1"
  chmod +x "$1"
}
for tool in cmake ctest dpkg-query apt-get sudo; do stand_in "bin/$tool" "$tool"; done
export PATH="$dir/bin:$PATH"

# run SCRIPT ARGS...: stdout in out.txt, stderr in err.txt, exit status in $rc; markers cleared.
run() {
  rm -f ran-*
  local script=$1
  shift
  # The stand-ins replace the helpers each script calls, but not the script under test.
  cp "$src"/scripts/*.sh tree/scripts/
  for helper in install-deps python-env; do
    [ "$script" = "$helper" ] || stand_in "tree/scripts/$helper.sh" "$helper"
  done
  bash "tree/scripts/$script.sh" "$@" > out.txt 2> err.txt
  rc=$?
}
ran_nothing() {
  ! ls ran-* > /dev/null 2>&1 || fail "scripts/$1 $2 started work: $(ls ran-*)"
}

for script in test fuzz install-deps python-env bench; do
  for flag in --help -h; do
    run "$script" $flag
    [ "$rc" -eq 0 ] || fail "scripts/$script.sh $flag: exit $rc: $(cat out.txt err.txt)"
    grep -q "^Usage: scripts/$script.sh" out.txt || fail "scripts/$script.sh $flag: no usage: $(cat out.txt)"
    ran_nothing "$script.sh" "$flag"
  done
done

# Refused before any work: exit 2 and a message that names the bad value.
refused() {  # refused SCRIPT WORD ARGS...
  local script=$1 word=$2
  shift 2
  run "$script" "$@"
  [ "$rc" -eq 2 ] || fail "scripts/$script.sh $*: exit $rc, not 2: $(cat out.txt err.txt)"
  grep -q -F -- "$word" err.txt || fail "scripts/$script.sh $*: '$word' not named: $(cat err.txt)"
  ran_nothing "$script.sh" "$*"
}
refused test "relase" relase
refused test "asan tsan" asan tsan
refused fuzz "abc" abc
refused fuzz "'0'" 0
refused fuzz "fuzz_nope" 60 fuzz_gemm fuzz_nope
refused install-deps "--yes" --yes
refused python-env "--force" --force

# The stand-ins do see work when the arguments are good (so the checks above can fail).
run test asan
[ "$rc" -eq 0 ] || fail "scripts/test.sh asan: exit $rc: $(cat out.txt err.txt)"
for step in install-deps cmake ctest; do
  [ -e "ran-$step" ] || fail "scripts/test.sh asan did not run $step"
done
[ ! -e ran-python-env ] || fail "scripts/test.sh asan made the Python environment"
run test
[ -e ran-python-env ] || fail "scripts/test.sh (release) did not make the Python environment"
run install-deps
[ "$rc" -eq 0 ] && [ -e ran-dpkg-query ] || fail "scripts/install-deps.sh did not check packages"
echo "ok: all"
