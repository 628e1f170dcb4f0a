#!/usr/bin/env bash
# Fails when a #include in src/ crosses a module boundary that the build does not allow.
#
# The modules and what each may use are the tollgate_module(...) lines of CMakeLists.txt: a
# module may include its own headers and those of every module it links, directly or through
# another module (docs/architecture.md lists them in build order). So the layering is kept by
# the build, not by discipline: an include that runs upward, or sideways into a module not
# linked, fails `make test` with the file, the line and the rule it breaks.
# src/main is the top and may include anything. Unit tests (*_test.cc) link the whole program and
# use real servers and compilers as fixtures (http/ servers, ratelimit/ policies): they may
# include any module but main/.
# Usage: scripts/check-layering.sh [--table] [ROOT]   (ROOT: a tree with CMakeLists.txt and src/;
# default: this repository). --table prints the module table of docs/architecture.md instead.
set -euo pipefail
table=0
if [ "${1:-}" = --table ]; then
  table=1
  shift
fi
cd "${1:-$(dirname "$0")/..}"

declare -A deps  # module -> space-separated direct module dependencies
modules=()
# tollgate_module(tollgate_NAME DIR dep dep ...), possibly continued on the next lines.
while read -r line; do
  name="$(sed -E 's/^tollgate_module\(tollgate_([a-z_]+) ([a-z_]+).*/\2/' <<<"$line")"
  direct="$(grep -oE 'tollgate_[a-z_]+' <<<"${line#*tollgate_module(tollgate_}" | sed 's/^tollgate_//' | tr '\n' ' ' || true)"
  modules+=("$name")
  deps[$name]="$direct"
done < <(awk '/^tollgate_module\(/ { buf = $0; while (buf !~ /\)/) { getline nxt; buf = buf " " nxt } print buf }' CMakeLists.txt)

# Transitive closure: what each module may include (itself and everything below it).
declare -A allowed
closure() {
  local m="$1" out=" $1 " d
  for d in ${deps[$m]:-}; do
    [[ "$out" == *" $d "* ]] && continue
    out+="$(closure "$d") "
  done
  echo "$out"
}
for m in "${modules[@]}"; do
  allowed[$m]=" $(closure "$m" | tr ' ' '\n' | grep -v '^$' | sort -u | tr '\n' ' ')"
done

if [ "$table" = 1 ]; then
  echo "| module | links (direct) | may include (transitively) |"
  echo "|---|---|---|"
  for m in "${modules[@]}"; do
    direct="$(tr ' ' '\n' <<<"${deps[$m]}" | grep -v '^$' | tr '\n' ' ' || true)"
    below="$(tr ' ' '\n' <<<"${allowed[$m]}" | grep -v -e '^$' -e "^$m\$" | tr '\n' ' ' || true)"
    echo "| \`$m\` | ${direct:-—} | ${below:-—} |"
  done
  exit 0
fi

status=0
while IFS= read -r -d '' file; do
  module="${file#src/}"
  module="${module%%/*}"
  [ "$module" = main ] && continue
  if [ -z "${allowed[$module]:-}" ]; then
    echo "check-layering: $file: folder src/$module is not a module in CMakeLists.txt" >&2
    status=1
    continue
  fi
  while IFS=: read -r lineno target; do
    used="${target%%/*}"
    [ -d "src/$used" ] || continue  # a system or third-party header
    if [[ "$file" == *_test.cc ]]; then
      [ "$used" = main ] || continue
    fi
    if [[ "${allowed[$module]}" != *" $used "* ]]; then
      echo "check-layering: $file:$lineno includes \"$target\": $module may use only:${allowed[$module]}" >&2
      status=1
    fi
  done < <(grep -nE '^#include "[^"]+"' "$file" | sed -E 's/^([0-9]+):#include "([^"]+)".*/\1:\2/')
done < <(find src \( -name '*.h' -o -name '*.cc' \) -print0 | sort -z)

if [ "$status" = 0 ]; then
  echo "check-layering: ${#modules[@]} modules, every include in src/ follows CMakeLists.txt's module dependencies"
fi
exit "$status"
