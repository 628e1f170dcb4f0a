#!/usr/bin/env bash
# Installs what tollgate needs to build, test and benchmark on Debian 12, skipping what is present.
# Usage: scripts/install-deps.sh [build|test|bench|all]   (default: all)
# Idempotent and quiet when nothing is missing, so `make demo` / `make test` can call it every time.
set -euo pipefail

what="${1:-all}"
here="$(cd "$(dirname "$0")/.." && pwd)"

build_pkgs=(build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libsimdjson-dev libyaml-cpp-dev libhiredis-dev libre2-dev libssl-dev
  libspdlog-dev libfmt-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  ca-certificates)
test_pkgs=(redis-server curl prometheus openssl)
# make test also builds with clang under ASan+UBSan and TSan, runs the libFuzzer targets and
# clang-tidy: the compiler, the sanitizer/libFuzzer runtimes, llvm-symbolizer (llvm-14) for
# readable reports.
test_pkgs+=(clang-14 libclang-rt-14-dev llvm-14 clang-tidy-14)
bench_pkgs=(wrk nginx)

want=("${build_pkgs[@]}")
case "$what" in
  build) ;;
  test) want+=("${test_pkgs[@]}") ;;
  bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  all) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|bench|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from Debian or from elsewhere (nodesource); only the command matters.
if [ "$what" != build ] && ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: need root to apt-get install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The integration and end-to-end tests use the official SDKs, pinned by tests/package-lock.json.
if [ "$what" != build ] && [ -f "$here/tests/package-lock.json" ]; then
  if [ ! -d "$here/tests/node_modules" ] || \
     [ "$here/tests/package-lock.json" -nt "$here/tests/node_modules/.package-lock.json" ]; then
    echo "install-deps: npm ci in tests"
    (cd "$here/tests" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
exit 0
