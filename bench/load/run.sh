#!/usr/bin/env bash
# tollgate load benchmark: the same requests sent directly to the mock model server, through nginx
# (a plain keep-alive reverse proxy: the floor for "a proxy in the path") and through tollgate.
#
#   bench/load/run.sh                  # 10 s per measurement, 16 and 64 connections
#   QUICK=1 bench/load/run.sh          # 2 s smoke run
#   DURATION=30s CONNS="16 64 256" TOLLGATE_THREADS=1 bench/load/run.sh
#
# It prints numbers and never judges them: no timing assertion, exit status 0 unless something
# failed to start or a request could not be served at all. Everything listens on 127.0.0.1, on free
# ports; every process it starts is stopped on exit (trap). See bench/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TG=${TOLLGATE_BIN:-$ROOT/build/tollgate}
NGINX=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
NPROC=$(nproc)

# ---- knobs -------------------------------------------------------------------------------------
QUICK=${QUICK:-0}
if [[ "$QUICK" == 1 ]]; then
  DURATION=${DURATION:-2s}; WARMUP=${WARMUP:-1s}; STREAMS=${STREAMS:-20}; STREAM_WARMUP=${STREAM_WARMUP:-3}
else
  DURATION=${DURATION:-10s}; WARMUP=${WARMUP:-2s}; STREAMS=${STREAMS:-200}; STREAM_WARMUP=${STREAM_WARMUP:-10}
fi
CONNS=${CONNS:-"16 64"}
CONNS=${CONNS//,/ }
TOLLGATE_THREADS=${TOLLGATE_THREADS:-$NPROC}
WRK_THREADS=${WRK_THREADS:-2}
MOCK_THREADS=${MOCK_THREADS:-1}
# Stream pacing of the mock (0 = every chunk as fast as it can be written). --latency-ms only
# applies to non-stream answers and --ttft-ms/--itl-ms only to streams, so one mock serves both
# phases: the non-stream phase always sees 0 ms.
STREAM_TTFT_MS=${STREAM_TTFT_MS:-0}
STREAM_ITL_MS=${STREAM_ITL_MS:-0}
STREAM_CHOICES=${STREAM_CHOICES:-3}
STREAM_MAX_TOKENS=${STREAM_MAX_TOKENS:-100}

# ---- helpers -----------------------------------------------------------------------------------
log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# "10s" / "2m" / "500ms" / "7" -> whole seconds (rounded up), for the safety timeouts only.
to_secs() {
  local d=$1
  case "$d" in
    *ms) echo $(( (${d%ms} + 999) / 1000 )) ;;
    *s)  echo "${d%s}" ;;
    *m)  echo $(( ${d%m} * 60 )) ;;
    *h)  echo $(( ${d%h} * 3600 )) ;;
    *)   echo "$d" ;;
  esac
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# key=value field from a RESULT/STREAM line.
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<" $2"; }

PIDS=()      # long-lived servers: mock, nginx, tollgate
CHILD=""     # the measurement running now (wrk or node), if any
TMP=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local pid
  [[ -n "$CHILD" ]] && { kill -TERM "$CHILD" 2>/dev/null || true; wait "$CHILD" 2>/dev/null || true; }
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  [[ -n "$TMP" && -d "$TMP" ]] && rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Run a bounded measurement in the background and wait for it, so that a signal interrupts the
# wait at once (bash defers traps while a foreground command runs). stdout/stderr -> $1.
measure() {
  local out=$1 rc=0; shift
  "$@" >"$out" 2>&1 &
  CHILD=$!
  wait "$CHILD" || rc=$?
  CHILD=""
  return "$rc"
}

# Wait for "<regex>" in a log file written by process $pid; print the first match.
wait_for_line() {
  local file=$1 regex=$2 pid=$3 what=$4 m
  for _ in $(seq 1 200); do
    m=$(grep -oE "$regex" "$file" 2>/dev/null | head -1 || true)
    [[ -n "$m" ]] && { echo "$m"; return 0; }
    kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; die "$what exited before it was ready"; }
    sleep 0.05
  done
  cat "$file" >&2
  die "$what not ready after 10 s"
}

# ---- preflight ---------------------------------------------------------------------------------
for tool in wrk node curl python3; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -x "$NGINX" ]] || die "nginx not found (set NGINX_BIN)"
# Someone may be rebuilding tollgate: wait (bounded) for the binary to come back.
for _ in $(seq 1 120); do [[ -x "$TG" ]] && break; sleep 1; done
[[ -x "$TG" ]] || die "$TG not found (build it first)"

TMP=$(mktemp -d /tmp/tollgate-bench.XXXXXX)
chmod 755 "$TMP"

# ---- machine -----------------------------------------------------------------------------------
CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
[[ -n "$CPU_MODEL" ]] || CPU_MODEL=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null || true)" ]]; then
  GIT_REV="$GIT_REV (uncommitted changes)"
fi

echo "# tollgate load benchmark"
echo
echo "- machine: $NPROC cores, ${CPU_MODEL:-unknown CPU}, $(uname -sr), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- tollgate: $TG @ $GIT_REV, --threads $TOLLGATE_THREADS, --access-log off"
echo "- nginx: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), worker_processes $NPROC; wrk: $(wrk --version 2>&1 | head -1 | awk '{print $2}'); node: $(node --version)"
echo "- mock-llm: --threads $MOCK_THREADS, 0 ms latency (streams: ttft ${STREAM_TTFT_MS} ms, itl ${STREAM_ITL_MS} ms)"
echo "- wrk: $WRK_THREADS threads, ${DURATION} per measurement after ${WARMUP} warm-up, connections: $CONNS"
echo
echo "> Note: tollgate, the mock, nginx and wrk all share the same $NPROC cores (nothing is pinned),"
echo "> so every number includes the load generator and the backend competing for CPU. Absolute"
echo "> numbers are low; the ratios between targets are what matter."
echo

# ---- 1. the mock model server ------------------------------------------------------------------
"$TG" mock-llm --listen 127.0.0.1:0 --threads "$MOCK_THREADS" \
  --ttft-ms "$STREAM_TTFT_MS" --itl-ms "$STREAM_ITL_MS" --log-level info \
  >"$TMP/mock.out" 2>"$TMP/mock.err" &
MOCK_PID=$!; PIDS+=("$MOCK_PID")
MOCK_ADDR=$(wait_for_line "$TMP/mock.err" 'mock-llm ready listen=[^ ]+' "$MOCK_PID" mock-llm)
MOCK_ADDR=${MOCK_ADDR#*listen=}
MOCK_PORT=${MOCK_ADDR##*:}
log "mock-llm on $MOCK_ADDR (pid $MOCK_PID)"

# ---- 2. nginx: a plain keep-alive reverse proxy to the mock --------------------------------------
NGX_DIR="$TMP/nginx"
mkdir -p "$NGX_DIR"
NGX_PORT=$(free_port)
cat >"$NGX_DIR/nginx.conf" <<EOF
# Written by bench/load/run.sh: a plain reverse proxy, the baseline tollgate is compared with.
daemon off;
worker_processes $NPROC;
pid $NGX_DIR/nginx.pid;
error_log $NGX_DIR/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    client_body_temp_path $NGX_DIR/client_body;
    proxy_temp_path $NGX_DIR/proxy;
    fastcgi_temp_path $NGX_DIR/fastcgi;
    uwsgi_temp_path $NGX_DIR/uwsgi;
    scgi_temp_path $NGX_DIR/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;

    upstream mock {
        server 127.0.0.1:$MOCK_PORT;
        keepalive 256;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGX_PORT;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # Relay each SSE chunk as it arrives (also harmless for the small non-stream answers).
            proxy_buffering off;
        }
    }
}
EOF
"$NGINX" -p "$NGX_DIR" -c "$NGX_DIR/nginx.conf" -e "$NGX_DIR/error.log" \
  >"$NGX_DIR/stdout" 2>"$NGX_DIR/stderr" &
NGX_PID=$!; PIDS+=("$NGX_PID")
for i in $(seq 1 200); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NGX_PORT/health" 2>/dev/null || true)
  [[ "$code" == 200 ]] && break
  kill -0 "$NGX_PID" 2>/dev/null || { cat "$NGX_DIR/stderr" "$NGX_DIR/error.log" >&2 2>/dev/null; die "nginx exited"; }
  [[ $i == 200 ]] && { cat "$NGX_DIR/error.log" >&2 2>/dev/null; die "nginx not ready after 10 s"; }
  sleep 0.05
done
log "nginx on 127.0.0.1:$NGX_PORT (pid $NGX_PID)"

# ---- 3. tollgate -------------------------------------------------------------------------------
cat >"$TMP/tollgate.yaml" <<'EOF'
# Written by bench/load/run.sh: one model, one backend.
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: bench-gateway
  namespace: default
spec:
  gatewayClassName: envoy-gateway
  listeners:
    - name: http
      port: 1975
      protocol: HTTP
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata:
  name: bench-backend
  namespace: default
spec:
  endpoints:
    - ip:
        address: 127.0.0.1
        port: 8000   # replaced by --backend-endpoint
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata:
  name: bench
  namespace: default
spec:
  schema:
    name: OpenAI
  backendRef:
    name: bench-backend
    kind: Backend
    group: gateway.envoyproxy.io
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata:
  name: bench-route
  namespace: default
spec:
  parentRefs:
    - name: bench-gateway
      kind: Gateway
      group: gateway.networking.k8s.io
  rules:
    - matches:
        - headers:
            - name: x-ai-eg-model
              type: Exact
              value: Qwen/Qwen3-1.7B
      backendRefs:
        - name: bench
EOF
"$TG" run -c "$TMP/tollgate.yaml" --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
  --threads "$TOLLGATE_THREADS" --access-log off \
  --backend-endpoint "bench-backend=127.0.0.1:$MOCK_PORT" \
  >"$TMP/tollgate.out" 2>"$TMP/tollgate.err" &
TG_PID=$!; PIDS+=("$TG_PID")
TG_LINE=$(wait_for_line "$TMP/tollgate.err" 'tollgate ready listen=[^ ]+ admin=[^ ]+' "$TG_PID" tollgate)
TG_ADDR=$(sed 's/.*listen=\([^ ]*\).*/\1/' <<<"$TG_LINE")
TG_ADMIN=$(sed 's/.*admin=\([^ ]*\).*/\1/' <<<"$TG_LINE")
log "tollgate on $TG_ADDR, admin $TG_ADMIN (pid $TG_PID)"

rss_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
TG_RSS_IDLE=$(rss_kb "$TG_PID" VmRSS)

declare -A URL=(
  [direct]="http://$MOCK_ADDR"
  [nginx]="http://127.0.0.1:$NGX_PORT"
  [tollgate]="http://$TG_ADDR"
)
TARGETS=(direct nginx tollgate)

# ---- functional check: each target answers the benchmark request (not a timing check) -----------
CHECK_BODY='{"model":"Qwen/Qwen3-1.7B","max_tokens":16,"messages":[{"role":"user","content":"ping"}]}'
for t in "${TARGETS[@]}"; do
  resp=$(curl -s -m 5 -w '\n%{http_code}' -H 'content-type: application/json' \
    -d "$CHECK_BODY" "${URL[$t]}/v1/chat/completions" || true)
  code=${resp##*$'\n'}
  if [[ "$code" != 200 || "$resp" != *'"chat.completion"'* ]]; then
    cat "$TMP/tollgate.err" >&2
    die "$t (${URL[$t]}) did not answer a chat completion: HTTP $code: ${resp%$'\n'*}"
  fi
done

# ---- 4. non-stream throughput with wrk -----------------------------------------------------------
DUR_S=$(to_secs "$DURATION"); WARM_S=$(to_secs "$WARMUP")
declare -A RPS P50 P99 ERRS
run_wrk() {  # target conns -> sets RPS/P50/P99/ERRS[target:conns]
  local t=$1 c=$2 th=$WRK_THREADS out="$TMP/wrk.$1.$2.out" line
  (( th > c )) && th=$c
  if [[ "$WARM_S" != 0 ]]; then
    measure "$out.warm" timeout -k 5 $((WARM_S + 30)) wrk -t"$th" -c"$c" -d"$WARMUP" --timeout 5s \
      -s "$HERE/chat.lua" "${URL[$t]}" || { cat "$out.warm" >&2; die "wrk warm-up against $t failed"; }
  fi
  measure "$out" timeout -k 5 $((DUR_S + 30)) wrk -t"$th" -c"$c" -d"$DURATION" --timeout 5s \
    -s "$HERE/chat.lua" "${URL[$t]}" || { cat "$out" >&2; die "wrk against $t failed"; }
  line=$(grep '^RESULT ' "$out" | tail -1)
  [[ -n "$line" ]] || { cat "$out" >&2; die "no RESULT line from wrk against $t"; }
  local k="$t:$c"
  RPS[$k]=$(field rps "$line"); P50[$k]=$(field p50_ms "$line"); P99[$k]=$(field p99_ms "$line")
  ERRS[$k]=$(( $(field errors_connect "$line") + $(field errors_read "$line") + $(field errors_write "$line") \
             + $(field errors_status "$line") + $(field errors_timeout "$line") ))
  log "$(printf '%-8s c=%-4s %s' "$t" "$c" "$line")"
}
for c in $CONNS; do
  for t in "${TARGETS[@]}"; do run_wrk "$t" "$c"; done
done
TG_RSS_AFTER=$(rss_kb "$TG_PID" VmRSS)
TG_HWM_AFTER=$(rss_kb "$TG_PID" VmHWM)

calc() { awk "BEGIN { printf \"%$1\", $2 }"; }

echo "## Non-stream chat completions (~1 KB request, max_tokens 16)"
echo
echo "| target | connections | req/s | p50 ms | p99 ms | errors |"
echo "|---|---:|---:|---:|---:|---:|"
for c in $CONNS; do
  for t in "${TARGETS[@]}"; do
    k="$t:$c"
    printf '| %s | %s | %s | %s | %s | %s |\n' "$t" "$c" "$(calc .0f "${RPS[$k]}")" \
      "$(calc .2f "${P50[$k]}")" "$(calc .2f "${P99[$k]}")" "${ERRS[$k]}"
  done
done
echo
echo "| connections | tollgate/nginx req/s | tollgate/direct req/s | p99 added vs direct ms | p99 added vs nginx ms |"
echo "|---:|---:|---:|---:|---:|"
for c in $CONNS; do
  printf '| %s | %s | %s | %s | %s |\n' "$c" \
    "$(calc .2f "${RPS[tollgate:$c]} / ${RPS[nginx:$c]}")" \
    "$(calc .2f "${RPS[tollgate:$c]} / ${RPS[direct:$c]}")" \
    "$(calc +.2f "${P99[tollgate:$c]} - ${P99[direct:$c]}")" \
    "$(calc +.2f "${P99[tollgate:$c]} - ${P99[nginx:$c]}")"
done
echo
echo "tollgate memory: VmRSS $(calc .1f "$TG_RSS_IDLE / 1024") MiB idle at start, $(calc .1f "$TG_RSS_AFTER / 1024") MiB after the wrk runs (peak VmHWM $(calc .1f "$TG_HWM_AFTER / 1024") MiB)"
echo

# ---- 5. streams: time to first byte, sequential -------------------------------------------------
declare -A SLINE
for t in "${TARGETS[@]}"; do
  # Safety bound only: 60 s plus a generous 2 s (plus the configured pacing) per stream.
  measure "$TMP/stream.$t.out" \
    timeout -k 5 $(( 60 + (STREAMS + STREAM_WARMUP) * (2 + (STREAM_TTFT_MS + STREAM_ITL_MS * 150) / 1000) )) \
    node "$HERE/stream_ttfb.mjs" --url "${URL[$t]}" --label "$t" --n "$STREAMS" \
      --warmup "$STREAM_WARMUP" --max-tokens "$STREAM_MAX_TOKENS" --choices "$STREAM_CHOICES" \
    || { cat "$TMP/stream.$t.out" >&2; die "stream client against $t failed"; }
  line=$(grep '^STREAM ' "$TMP/stream.$t.out" | tail -1 || true)
  [[ -n "$line" ]] || { cat "$TMP/stream.$t.out" >&2; die "no STREAM line from the client against $t"; }
  SLINE[$t]=$line
  log "$line"
done
TG_RSS_END=$(rss_kb "$TG_PID" VmRSS)

echo "## Streaming chat completions ($STREAMS sequential streams, one keep-alive connection, stream: true, max_tokens $STREAM_MAX_TOKENS, n $STREAM_CHOICES)"
echo
echo "| target | streams | TTFB p50 ms | TTFB p99 ms | total p50 ms | total p99 ms | SSE events/stream | content chunks/stream | errors |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for t in "${TARGETS[@]}"; do
  l=${SLINE[$t]}
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$(field n "$l")" \
    "$(field ttfb_p50_ms "$l")" "$(field ttfb_p99_ms "$l")" "$(field total_p50_ms "$l")" \
    "$(field total_p99_ms "$l")" "$(field events "$l")" "$(field content_chunks "$l")" "$(field errors "$l")"
done
echo
sd() { calc +.3f "$(field "$1" "${SLINE[$2]}") - $(field "$1" "${SLINE[$3]}")"; }
echo "| added by tollgate | TTFB p50 ms | TTFB p99 ms | total p50 ms | total p99 ms |"
echo "|---|---:|---:|---:|---:|"
echo "| vs direct | $(sd ttfb_p50_ms tollgate direct) | $(sd ttfb_p99_ms tollgate direct) | $(sd total_p50_ms tollgate direct) | $(sd total_p99_ms tollgate direct) |"
echo "| vs nginx | $(sd ttfb_p50_ms tollgate nginx) | $(sd ttfb_p99_ms tollgate nginx) | $(sd total_p50_ms tollgate nginx) | $(sd total_p99_ms tollgate nginx) |"
echo
echo "tollgate memory at the end: VmRSS $(calc .1f "$TG_RSS_END / 1024") MiB (peak VmHWM $(calc .1f "$(rss_kb "$TG_PID" VmHWM) / 1024") MiB)"
