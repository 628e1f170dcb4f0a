#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each for N seconds (default 20) on its seed corpus plus
# what it finds, JOBS targets at a time (default: nproc). Fails when any target crashes, leaks,
# times out (one input over 5 s), runs out of memory (1 GiB) or trips ASan/UBSan.
# Usage: tests/fuzz/run.sh [seconds] [target...]      (targets: names without _fuzz)
# Env: FUZZ_BUILD_DIR (default build-asan, configured with `cmake --preset asan` when missing),
#      FUZZ_OUT (where new inputs and crashers go; default a temporary directory, kept on failure)
# docs/fuzzing.md: running one target longer, reproducing and minimising a crash.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

seconds="${1:-20}"
shift || true
build="${FUZZ_BUILD_DIR:-build-asan}"
jobs="${JOBS:-$(nproc)}"

if [ ! -f "$build/build.ninja" ]; then
  cmake --preset asan >/dev/null
fi
cmake --build "$build" -j "$jobs" --target fuzz_targets

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/*_fuzz.cc; do
    n="$(basename "$f" _fuzz.cc)"
    targets+=("$n")
  done
fi

out="${FUZZ_OUT:-$(mktemp -d /tmp/tollgate-fuzz.XXXXXX)}"
mkdir -p "$out"
export PATH="$PATH:/usr/lib/llvm-14/bin"  # llvm-symbolizer for readable reports
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

run_one() {
  local t="$1" bin="$build/fuzz/$1_fuzz" work="$out/$1"
  mkdir -p "$work/new" "$work/crash"
  local dirs=("$work/new" "$root/tests/fuzz/corpus/$t")
  [ -d "$root/tests/fuzz/regressions/$t" ] && dirs+=("$root/tests/fuzz/regressions/$t")
  # The first corpus dir receives new inputs; the committed seeds are only read.
  # timeout: a hang in libFuzzer's own out-of-memory report (it profiles the heap) must not
  # hold CI; the target fails either way.
  if timeout -k 10 $((seconds + 120)) "$bin" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 -print_final_stats=1 \
       -artifact_prefix="$work/crash/" "${dirs[@]}" >"$work/log" 2>&1; then
    echo "fuzz $t: ok $(grep -m1 -o 'stat::number_of_executed_units: [0-9]*' "$work/log" |
      grep -o '[0-9]*$') runs, cov $(grep -o 'cov: [0-9]*' "$work/log" | tail -1 | cut -d' ' -f2)," \
      "$(ls "$work/new" | wc -l) new inputs"
  else
    echo "fuzz $t: FAILED (log $work/log, crashers in $work/crash/)"
    grep -E -A25 '^==[0-9]+==ERROR|runtime error:|ERROR: libFuzzer|SUMMARY' "$work/log" | head -60
    return 1
  fi
}
export -f run_one
export build out seconds root

echo "fuzz: ${#targets[@]} targets, ${seconds}s each, $jobs at a time (work dir $out)"
status=0
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} || status=$?
if [ $status -ne 0 ]; then
  echo "fuzz: FAILED; minimise a crasher with -minimize_crash=1 and add it to" \
       "tests/fuzz/regressions/<target>/ (docs/fuzzing.md)" >&2
  exit 1
fi
[ -z "${FUZZ_OUT:-}" ] && rm -rf "$out"
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s without a finding"
