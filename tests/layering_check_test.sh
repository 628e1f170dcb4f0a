#!/usr/bin/env bash
# scripts/check-layering.sh can fail: on a copy of the module table with one upward include (a
# config/ file including gateway/) it must exit non-zero and name the file and the rule; on the
# same tree without it, pass.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
cp "$here/CMakeLists.txt" "$tree/"
mkdir -p "$tree/src/config" "$tree/src/gateway" "$tree/src/common"
printf '#include "common/strings.h"\n' >"$tree/src/config/ok.cc"
printf '#pragma once\n' >"$tree/src/gateway/gateway.h"
printf '#pragma once\n' >"$tree/src/common/strings.h"
bash "$here/scripts/check-layering.sh" "$tree" >/dev/null
printf '#include "gateway/gateway.h"\n' >"$tree/src/config/upward.h"
if out="$(bash "$here/scripts/check-layering.sh" "$tree" 2>&1)"; then
  echo "FAIL: an include from config/ into gateway/ was accepted"; exit 1
fi
grep -q 'src/config/upward.h:1 includes "gateway/gateway.h": config may use only: common config' <<<"$out" \
  || { echo "FAIL: unexpected message: $out"; exit 1; }
echo "layering check: refuses an upward include and names it"
