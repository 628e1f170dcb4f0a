#!/usr/bin/env bash
# Runs clang-tidy (the checked-in .clang-tidy) over the project's C++ sources.
# Usage: scripts/clang-tidy.sh [--all | BASE]
#   --all   every .cc under src/ and tests/fuzz/ (about 60 files: minutes on 2 cores)
#   BASE    the .cc files changed since the merge base with BASE (default: main), plus the .cc
#           files beside changed headers; committed and uncommitted changes both count.
#           CI passes HEAD~1: the files of the commit (or merge) under test.
# Env: TIDY_BUILD_DIR (a clang build dir with compile_commands.json; default build-asan),
#      JOBS (parallel clang-tidy processes; default nproc), CLANG_TIDY (default clang-tidy-14).
# Exits non-zero when clang-tidy reports anything (WarningsAsErrors in .clang-tidy).
set -euo pipefail
cd "$(dirname "$0")/.."

build="${TIDY_BUILD_DIR:-build-asan}"
jobs="${JOBS:-$(nproc)}"
tidy="${CLANG_TIDY:-clang-tidy-14}"
command -v "$tidy" >/dev/null || tidy=clang-tidy

if [ ! -f "$build/compile_commands.json" ]; then
  echo "clang-tidy.sh: $build/compile_commands.json missing; configure a clang build first" \
       "(make test-asan does)" >&2
  exit 2
fi

mode="${1:-main}"
if [ "$mode" = --all ]; then
  mapfile -t files < <(git ls-files 'src/*.cc' 'tests/fuzz/*.cc')
else
  base="$(git merge-base HEAD "$mode" 2>/dev/null || true)"
  if [ -z "$base" ]; then
    # A shallow clone or an unknown branch: checking everything takes many minutes, so say so
    # and leave it to an explicit --all.
    echo "clang-tidy: no merge base with '$mode' (shallow clone?); nothing checked." \
         "Run scripts/clang-tidy.sh --all to check every file." >&2
    exit 0
  else
    mapfile -t changed < <( (git diff --name-only "$base" -- 'src' 'tests/fuzz';
                             git ls-files --others --exclude-standard -- 'src' 'tests/fuzz') | sort -u)
    files=()
    for f in "${changed[@]}"; do
      case "$f" in
        *.cc) [ -f "$f" ] && files+=("$f") ;;
        *.h) c="${f%.h}.cc"; [ -f "$c" ] && files+=("$c") ;;
      esac
    done
    if [ ${#files[@]} -gt 0 ]; then
      mapfile -t files < <(printf '%s\n' "${files[@]}" | sort -u)
    fi
  fi
fi

# Only files the build knows (generated or excluded files have no compile command).
known=()
for f in "${files[@]}"; do
  grep -q "\"file\": \"$PWD/$f\"" "$build/compile_commands.json" && known+=("$f")
done
if [ ${#known[@]} -eq 0 ]; then
  echo "clang-tidy: no changed C++ source to check"
  exit 0
fi

echo "clang-tidy: checking ${#known[@]} files with $jobs jobs"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
printf '%s\n' "${known[@]}" |
  xargs -P "$jobs" -n 1 "$tidy" -p "$build" --quiet >"$log" 2>&1 || status=$?
# clang-tidy prints "N warnings generated." for suppressed system-header findings: not ours.
grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^Use -system-headers' "$log" || true
if [ $status -ne 0 ]; then
  echo "clang-tidy: findings above (see .clang-tidy for the checks)" >&2
  exit 1
fi
echo "clang-tidy: ${#known[@]} files clean"
