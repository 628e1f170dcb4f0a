#!/usr/bin/env bash
# What translating Anthropic Messages to chat completions costs under load: one tollgate in front of
# mock-llm, the same conversation sent as a chat completion (passed through) and as a Messages
# request (translated both ways), interleaved per connection count in the same run, non-stream and
# streamed. Then the translators' instructions per request (callgrind over build/micro_bench) when
# valgrind is installed. Prints a Markdown report; never judges the numbers. See bench/README.md.
#
#   bench/load/translate.sh                       # 10 s per measurement, 16 and 64 connections
#   DURATION=3s CONNS=16 bench/load/translate.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TG=${TOLLGATE_BIN:-$ROOT/build/tollgate}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-"16 64"}
CONNS=${CONNS//,/ }
TOLLGATE_THREADS=${TOLLGATE_THREADS:-$(nproc)}
WRK_THREADS=${WRK_THREADS:-2}
BENCH_TAG=translate
# shellcheck source=bench/lib.sh
source "$HERE/../lib.sh"

TMP=$(mktemp -d /tmp/tollgate-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

[[ -x "$TG" ]] || die "$TG not built"
command -v wrk >/dev/null || die "wrk not found"

"$TG" mock-llm --listen 127.0.0.1:0 >"$TMP/mock.out" 2>"$TMP/mock.err" &
PIDS+=($!)
MOCK=$(wait_for_line "$TMP/mock.err" 'listen=[0-9.:]+' "$!" mock | cut -d= -f2)
"$TG" run -c "$HERE/translate.yaml" --listen 127.0.0.1:0 --admin 127.0.0.1:0 --access-log off \
  --threads "$TOLLGATE_THREADS" --backend-endpoint "bench-backend=$MOCK" >"$TMP/gw.out" 2>"$TMP/gw.err" &
PIDS+=($!)
GW=$(wait_for_line "$TMP/gw.err" 'listen=[0-9.:]+' "$!" tollgate | cut -d= -f2)

# Functional check: a Messages request is answered in Anthropic's shape.
curl -sf "http://$GW/v1/messages" -H 'content-type: application/json' \
  -d '{"model":"Qwen/Qwen3-1.7B","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}' \
  | grep -q '"type":"message"' || die "the gateway did not answer a Messages request"

field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<" $2"; }
run() {  # api stream conns
  [[ "$WARMUP" != 0 ]] && wrk -t"$WRK_THREADS" -c"$3" -d"$WARMUP" -s "$HERE/messages.lua" "http://$GW" -- "$1" "$2" >/dev/null
  wrk -t"$WRK_THREADS" -c"$3" -d"$DURATION" --timeout 5s -s "$HERE/messages.lua" "http://$GW" -- "$1" "$2" | grep '^RESULT'
}

echo "# Messages → chat translation vs chat pass-through ($(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "tollgate --threads $TOLLGATE_THREADS, mock-llm 1 thread, wrk -t$WRK_THREADS, $DURATION per row after $WARMUP warm-up."
echo
echo "| stream | conns | API | req/s | p50 ms | p99 ms | errors | req/s vs chat | p50 added ms | p99 added ms |"
echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
for stream in 0 1; do
  for c in $CONNS; do
    log "stream=$stream conns=$c: chat pass-through"
    chat=$(run chat "$stream" "$c")
    log "stream=$stream conns=$c: messages translated"
    msg=$(run messages "$stream" "$c")
    for row in chat msg; do
      line=${!row}
      errs=$(( $(field errors_connect "$line") + $(field errors_read "$line") + $(field errors_write "$line") + $(field errors_status "$line") + $(field errors_timeout "$line") ))
      if [[ $row == chat ]]; then
        printf '| %s | %s | chat (pass-through) | %s | %s | %s | %s | 1.00 | | |\n' "$stream" "$c" \
          "$(field rps "$line")" "$(field p50_ms "$line")" "$(field p99_ms "$line")" "$errs"
      else
        printf '| %s | %s | Messages (translated) | %s | %s | %s | %s | %.2f | %+.3f | %+.3f |\n' "$stream" "$c" \
          "$(field rps "$line")" "$(field p50_ms "$line")" "$(field p99_ms "$line")" "$errs" \
          "$(awk "BEGIN{print $(field rps "$line") / $(field rps "$chat")}")" \
          "$(awk "BEGIN{print $(field p50_ms "$line") - $(field p50_ms "$chat")}")" \
          "$(awk "BEGIN{print $(field p99_ms "$line") - $(field p99_ms "$chat")}")"
      fi
    done
  done
done
echo

# Instructions per request of the translators alone (deterministic, unlike time).
MB="$ROOT/build/micro_bench"
if command -v valgrind >/dev/null && cmake --build "$ROOT/build" --target micro_bench >"$TMP/mb.out" 2>&1; then
  echo "Translator work per request (build/micro_bench under callgrind: Ir inside oneRequest / requests):"
  echo
  echo "| case | instructions per request |"
  echo "|---|---:|"
  for f in chat_passthrough_json messages_json responses_json chat_passthrough_stream messages_stream responses_stream; do
    TOLLGATE_BENCH_COUNTS=1 valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" \
      --toggle-collect='*oneRequest*' "$MB" --benchmark_filter="Translate/$f\$" \
      --benchmark_min_time=0.2 >/dev/null 2>"$TMP/cg.err" || true
    ir=$(callgrind_annotate "$TMP/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    n=$(grep -oE 'requests\[[0-9]\]=[1-9][0-9]*' "$TMP/cg.err" | head -1 | cut -d= -f2)
    [[ -n "$ir" && -n "$n" ]] && printf '| %s | %d |\n' "$f" $(( ir / n ))
  done
else
  log "valgrind or micro_bench missing: instructions per request skipped"
fi
