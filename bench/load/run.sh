#!/usr/bin/env bash
# tollgate load benchmark: the same requests sent directly to the mock model server, through nginx
# (a plain keep-alive reverse proxy: the floor for "a proxy in the path") and through tollgate.
#
#   bench/load/run.sh                  # 10 s per measurement, 16 and 64 connections
#   QUICK=1 bench/load/run.sh          # 2 s smoke run
#   DURATION=30s CONNS="16 64 256" TOLLGATE_THREADS=1 bench/load/run.sh
#   RATELIMIT=0 bench/load/run.sh      # skip the rate-limit section (no limit / in-process / Redis)
#   OBSERVABILITY=0 bench/load/run.sh  # skip the observability section (metrics / access log cost)
#   BEDROCK=0 bench/load/run.sh        # skip the Bedrock section (translation + SigV4 cost)
#   RESPONSES=0 bench/load/run.sh      # skip the Responses section (next to chat completions)
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
# Rate-limit section: tollgate without a limit, with an in-process limit and with a Redis limit,
# under the non-stream load, each request carrying x-user-id (one of RATELIMIT_USERS users).
RATELIMIT=${RATELIMIT:-1}
RATELIMIT_USERS=${RATELIMIT_USERS:-64}
REDIS_SERVER=${REDIS_SERVER_BIN:-$(command -v redis-server || true)}
REDIS_CLI=${REDIS_CLI_BIN:-$(command -v redis-cli || true)}
# Observability section: tollgate with --metrics off --access-log off, with --metrics on, and with
# --metrics on plus an access log file, under the non-stream load (chat.lua).
OBSERVABILITY=${OBSERVABILITY:-1}
# Bedrock section: Anthropic Messages through tollgate to the fake Bedrock of mock-llm (translated,
# SigV4-signed, event stream translated back) vs the same InvokeModel request sent to the fake
# directly; plus the SigV4 micro benchmark (build/micro_bench).
BEDROCK=${BEDROCK:-1}
# Responses section: POST /v1/responses passed through next to chat completions, same prompt, same
# mock and tollgate, non-stream and streamed (bench/load/chat.lua with BENCH_API, BENCH_STREAM).
RESPONSES=${RESPONSES:-1}

# ---- helpers -----------------------------------------------------------------------------------
BENCH_TAG=bench
# shellcheck source=bench/lib.sh
source "$HERE/../lib.sh"

PIDS=()      # long-lived servers: mock, nginx, tollgate
CHILD=""     # the measurement running now (wrk or node), if any
TMP=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n "$CHILD" ]] && { kill -TERM "$CHILD" 2>/dev/null || true; wait "$CHILD" 2>/dev/null || true; }
  stop_pids "${PIDS[@]}"
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


# ---- preflight ---------------------------------------------------------------------------------
for tool in wrk node curl python3; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -x "$NGINX" ]] || die "nginx not found (set NGINX_BIN)"
# Someone may be rebuilding tollgate: wait (bounded) for the binary to come back.
for _ in $(seq 1 120); do [[ -x "$TG" ]] && break; sleep 1; done
[[ -x "$TG" ]] || die "$TG not found (build it first)"
[[ "$RATELIMIT_USERS" =~ ^[1-9][0-9]*$ ]] || die "RATELIMIT_USERS must be a positive integer"
HAVE_REDIS=0
if [[ "$RATELIMIT" != 0 ]]; then
  if [[ -n "$REDIS_SERVER" && -x "$REDIS_SERVER" ]]; then
    HAVE_REDIS=1
  else
    log "redis-server not found (set REDIS_SERVER_BIN): the Redis rate-limit run will be skipped"
  fi
fi

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
echo "- tollgate: $TG @ $GIT_REV, --threads $TOLLGATE_THREADS, --access-log off, --metrics on (the default)"
echo "- nginx: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), worker_processes $NPROC; wrk: $(wrk --version 2>&1 | head -1 | awk '{print $2}'); node: $(node --version)"
echo "- mock-llm: --threads $MOCK_THREADS, 0 ms latency (streams: ttft ${STREAM_TTFT_MS} ms, itl ${STREAM_ITL_MS} ms)"
echo "- wrk: $WRK_THREADS threads, ${DURATION} per measurement after ${WARMUP} warm-up, connections: $CONNS"
if [[ "$RATELIMIT" == 0 ]]; then
  echo "- rate-limit section: off (RATELIMIT=0)"
elif [[ "$HAVE_REDIS" == 1 ]]; then
  echo "- rate-limit section: no limit / in-process / Redis ($("$REDIS_SERVER" --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')), $RATELIMIT_USERS users"
else
  echo "- rate-limit section: no limit / in-process, $RATELIMIT_USERS users (Redis run skipped: redis-server not found)"
fi
if [[ "$OBSERVABILITY" == 0 ]]; then
  echo "- observability section: off (OBSERVABILITY=0)"
else
  echo "- observability section: metrics off + access log off / metrics on / metrics on + access log file"
fi
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
# name yaml [extra run flags...] -> starts `tollgate run`, logs to $TMP/<name>.{out,err}, sets
# TGX_PID, TGX_ADDR, TGX_ADMIN. TOLLGATE_REDIS_URL is removed from its environment so that only an
# explicit --redis flag selects the Redis store. `--access-log off` unless the extra flags carry
# their own --access-log (tollgate refuses the option twice). --metrics is left to the caller (the
# default is on).
start_tollgate() {
  local name=$1 yaml=$2 line a; shift 2
  local -a alog=(--access-log off)
  for a in "$@"; do [[ "$a" == --access-log || "$a" == --access-log=* ]] && alog=(); done
  env -u TOLLGATE_REDIS_URL "$TG" run -c "$yaml" --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
    --threads "$TOLLGATE_THREADS" "${alog[@]}" \
    --backend-endpoint "bench-backend=127.0.0.1:$MOCK_PORT" "$@" \
    >"$TMP/$name.out" 2>"$TMP/$name.err" &
  TGX_PID=$!; PIDS+=("$TGX_PID")
  line=$(wait_for_line "$TMP/$name.err" 'tollgate ready listen=[^ ]+ admin=[^ ]+' "$TGX_PID" "$name")
  TGX_ADDR=$(sed 's/.*listen=\([^ ]*\).*/\1/' <<<"$line")
  TGX_ADMIN=$(sed 's/.*admin=\([^ ]*\).*/\1/' <<<"$line")
  log "$name on $TGX_ADDR, admin $TGX_ADMIN (pid $TGX_PID)"
}
start_tollgate tollgate "$TMP/tollgate.yaml"
TG_PID=$TGX_PID; TG_ADDR=$TGX_ADDR; TG_ADMIN=$TGX_ADMIN

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
declare -A RPS P50 P99 ERRS REQS WARM_REQS
# Optional command run between the warm-up and the measurement (empty: nothing), with the target
# and the connection count as arguments; the observability section counts access-log lines there.
BEFORE_MEASURE=""
# target conns [script [script args...]] -> sets RPS/P50/P99/ERRS/REQS/WARM_REQS[target:conns]
# (REQS: requests wrk completed in the measurement; WARM_REQS: in the warm-up). The script
# defaults to chat.lua; its arguments go to wrk after `--`.
run_wrk() {
  local t=$1 c=$2 script=${3:-chat.lua} th=$WRK_THREADS out="$TMP/wrk.$1.$2.out" line wline
  local -a sargs=("${@:4}")
  (( th > c )) && th=$c
  WARM_REQS[$t:$c]=0
  if [[ "$WARM_S" != 0 ]]; then
    measure "$out.warm" timeout -k 5 $((WARM_S + 30)) wrk -t"$th" -c"$c" -d"$WARMUP" --timeout 5s \
      -s "$HERE/$script" "${URL[$t]}" -- "${sargs[@]}" \
      || { cat "$out.warm" >&2; die "wrk warm-up against $t failed"; }
    wline=$(grep '^RESULT ' "$out.warm" | tail -1 || true)
    WARM_REQS[$t:$c]=$(field requests "$wline"); WARM_REQS[$t:$c]=${WARM_REQS[$t:$c]:-0}
  fi
  [[ -n "$BEFORE_MEASURE" ]] && "$BEFORE_MEASURE" "$t" "$c"
  measure "$out" timeout -k 5 $((DUR_S + 30)) wrk -t"$th" -c"$c" -d"$DURATION" --timeout 5s \
    -s "$HERE/$script" "${URL[$t]}" -- "${sargs[@]}" || { cat "$out" >&2; die "wrk against $t failed"; }
  line=$(grep '^RESULT ' "$out" | tail -1)
  [[ -n "$line" ]] || { cat "$out" >&2; die "no RESULT line from wrk against $t"; }
  local k="$t:$c"
  RPS[$k]=$(field rps "$line"); P50[$k]=$(field p50_ms "$line"); P99[$k]=$(field p99_ms "$line")
  REQS[$k]=$(field requests "$line")
  ERRS[$k]=$(( $(field errors_connect "$line") + $(field errors_read "$line") + $(field errors_write "$line") \
             + $(field errors_status "$line") + $(field errors_timeout "$line") ))
  log "$(printf '%-11s c=%-4s %s' "$t" "$c" "$line")"
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

# ---- 6. rate limiting: no limit vs in-process limit vs Redis limit ------------------------------
# The non-stream wrk load again, through three tollgates that differ only in rate limiting:
#   rl-none   the tollgate above (no BackendTrafficPolicy), measured again with chat_user.lua;
#   rl-local  the same YAML plus token costs and a BackendTrafficPolicy, in-process counters;
#   rl-redis  the same YAML and policy, counters in a private redis-server (--redis).
# All three get the same requests (chat.lua's plus x-user-id, round-robin over RATELIMIT_USERS
# users), so the only difference between the rows is the limiter. The budgets (10^12 per window)
# never run out: every request is checked and charged, none is refused.
ratelimit_section() {
  local rl_yaml="$TMP/tollgate-ratelimit.yaml" vout rc=0
  {
    cat "$TMP/tollgate.yaml"
    cat <<'EOF'
  # Appended by the rate-limit section: the AIGatewayRoute above is the last document, so this key
  # belongs to its spec. cost.response of the token rule below charges this TotalToken count.
  llmRequestCosts:
    - metadataKey: total
      type: TotalToken
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata:
  name: bench-rate-limit
  namespace: default
spec:
  targetRefs:
    - group: gateway.networking.k8s.io
      kind: Gateway
      name: bench-gateway
  rateLimit:
    type: Global
    global:
      rules:
        # Tokens per user per hour: checked before the request (cost 0), charged with the
        # response's total_tokens when it completes.
        - clientSelectors:
            - headers:
                - name: x-user-id
                  type: Distinct
          limit:
            requests: 1000000000000
            unit: Hour
          cost:
            request:
              from: Number
              number: 0
            response:
              from: Metadata
              metadata:
                namespace: io.envoy.ai_gateway
                key: total
        # Requests per user per minute: checked and charged 1 before the request.
        - clientSelectors:
            - headers:
                - name: x-user-id
                  type: Distinct
          limit:
            requests: 1000000000000
            unit: Minute
          cost:
            request:
              from: Number
              number: 1
EOF
  } >"$rl_yaml"
  # A warning (e.g. a cost.response key no route defines) would silently change what is measured.
  vout=$("$TG" validate -c "$rl_yaml" 2>&1) || rc=$?
  [[ $rc == 0 && "$vout" == *" 0 warning(s)"* ]] || { printf '%s\n' "$vout" >&2; die "the rate-limit YAML does not validate cleanly"; }

  URL[rl-none]="http://$TG_ADDR"
  local -a rl_targets=(rl-none rl-local)
  local -A label=([rl-none]="no limit" [rl-local]="in-process limit" [rl-redis]="Redis limit")

  start_tollgate tollgate-local "$rl_yaml"
  local tgl_admin=$TGX_ADMIN
  URL[rl-local]="http://$TGX_ADDR"
  grep -q 'rate limits: .*in-process store' "$TMP/tollgate-local.err" \
    || { cat "$TMP/tollgate-local.err" >&2; die "tollgate-local did not report an in-process rate-limit store"; }

  local redis_port="" redis_pid=""
  if [[ "$HAVE_REDIS" == 1 ]]; then
    mkdir -p "$TMP/redis"
    redis_port=$(free_port)
    "$REDIS_SERVER" --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
      --dir "$TMP/redis" --daemonize no >"$TMP/redis/redis.log" 2>&1 &
    redis_pid=$!; PIDS+=("$redis_pid")
    wait_for_line "$TMP/redis/redis.log" 'Ready to accept connections' "$redis_pid" redis-server >/dev/null
    log "redis-server on 127.0.0.1:$redis_port (pid $redis_pid)"
    start_tollgate tollgate-redis "$rl_yaml" --redis "redis://127.0.0.1:$redis_port"
    URL[rl-redis]="http://$TGX_ADDR"
    grep -q 'rate limits: .*redis store' "$TMP/tollgate-redis.err" \
      || { cat "$TMP/tollgate-redis.err" >&2; die "tollgate-redis did not report a Redis rate-limit store"; }
    # "ready" comes before the loops' Redis connections are up; don't let the check fail open.
    wait_for_line "$TMP/tollgate-redis.err" "redis 127.0.0.1:$redis_port: connected" "$TGX_PID" tollgate-redis >/dev/null
    rl_targets+=(rl-redis)
  else
    log "redis-server not found: skipping the Redis rate-limit run"
  fi

  # Functional check: a 200 with the rate-limit headers, i.e. the policy applies to the request.
  local t resp code hdrs="$TMP/rl-check.headers"
  for t in rl-local ${redis_port:+rl-redis}; do
    resp=$(curl -s -m 5 -D "$hdrs" -w '\n%{http_code}' -H 'content-type: application/json' \
      -H 'x-user-id: bench-user-1' -d "$CHECK_BODY" "${URL[$t]}/v1/chat/completions" || true)
    code=${resp##*$'\n'}
    if [[ "$code" != 200 || "$resp" != *'"chat.completion"'* ]] || ! grep -qi '^x-ratelimit-limit:' "$hdrs"; then
      cat "$TMP/tollgate-${t#rl-}.err" "$hdrs" >&2
      die "$t (${URL[$t]}) did not answer a rate-limited chat completion: HTTP $code: ${resp%$'\n'*}"
    fi
  done

  local c
  for c in $CONNS; do
    for t in "${rl_targets[@]}"; do run_wrk "$t" "$c" chat_user.lua "$RATELIMIT_USERS"; done
  done

  echo "## Rate limiting: no limit vs in-process vs Redis (non-stream, x-user-id over $RATELIMIT_USERS users)"
  echo
  echo "Same requests as above plus an \`x-user-id\` header (\`bench/load/chat_user.lua\`, round-robin"
  echo "over bench-user-1..$RATELIMIT_USERS); all three rows use that script, so compare them with each other,"
  echo "not with the tollgate rows above. Limited configs: one BackendTrafficPolicy on the Gateway with"
  echo "two per-user rules (TotalToken per Hour, requests per Minute), 10^12 per window: never refused."
  echo
  echo "| config | connections | req/s | p50 ms | p99 ms | errors | req/s vs no limit | p99 added vs no limit ms |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  local k base
  for c in $CONNS; do
    base="rl-none:$c"
    for t in rl-none rl-local rl-redis; do
      k="$t:$c"
      if [[ -z "${RPS[$k]:-}" ]]; then
        printf '| %s | %s | skipped: redis-server not found | | | | | |\n' "${label[$t]}" "$c"
        continue
      fi
      printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "${label[$t]}" "$c" "$(calc .0f "${RPS[$k]}")" \
        "$(calc .2f "${P50[$k]}")" "$(calc .2f "${P99[$k]}")" "${ERRS[$k]}" \
        "$(calc .2f "${RPS[$k]} / ${RPS[$base]}")" \
        "$( [[ $t == rl-none ]] && echo - || calc +.2f "${P99[$k]} - ${P99[$base]}")"
    done
  done
  echo

  # Did the limiters really run? In-process: the admin endpoint shows what one user has spent.
  local rl_json spent
  rl_json=$(curl -s -m 5 "http://$tgl_admin/ratelimits?user=bench-user-1" || true)
  echo "In-process limiter, \`GET /ratelimits?user=bench-user-1\` on tollgate-local's admin port:"
  echo
  echo '```'
  printf '%s\n' "$rl_json"
  echo '```'
  echo
  spent=$(python3 -c '
import json, sys
try:
    b = json.loads(sys.argv[1])["buckets"]
except Exception as e:
    print("unreadable answer: %s" % e); sys.exit(0)
print(", ".join("rule %s (%s) spent %s" % (x["rule"], x["unit"], x["spent"]) for x in b) or "no buckets")
if not b or any(int(x["spent"]) <= 0 for x in b): print("ZERO")
' "$rl_json")
  if [[ "$spent" == *ZERO* || "$spent" == unreadable* ]]; then
    echo "**WARNING: the in-process limiter has no bucket, or a bucket with nothing spent, for bench-user-1 (${spent%$'\n'ZERO}): the limit did not run as configured.**"
    log "WARNING: in-process limiter: nothing spent for bench-user-1"
  else
    echo "bench-user-1: $spent."
  fi
  echo

  if [[ -n "$redis_port" ]]; then
    local nkeys errs
    if [[ -n "$REDIS_CLI" && -x "$REDIS_CLI" ]]; then
      "$REDIS_CLI" -p "$redis_port" --scan --pattern 'tg:rl:*' >"$TMP/redis/keys.txt" 2>&1 \
        || { cat "$TMP/redis/keys.txt" >&2; die "redis-cli --scan failed"; }
      nkeys=$(wc -l <"$TMP/redis/keys.txt")
      echo "Redis limiter: \`redis-cli -p $redis_port --scan --pattern 'tg:rl:*'\` found **$nkeys keys** (expected at least 2 rules × $RATELIMIT_USERS users = $((2 * RATELIMIT_USERS)), plus $RATELIMIT_USERS per extra Minute window the runs crossed), e.g.:"
      echo
      echo '```'
      head -3 "$TMP/redis/keys.txt"
      echo '```'
      echo
      if [[ "$nkeys" == 0 ]]; then
        echo "**WARNING: Redis holds no tg:rl:* keys after the Redis run: the Redis limiter did not run; that row measured no limiting.**"
        echo
        log "WARNING: Redis holds no tg:rl:* keys"
      fi
    else
      echo "**WARNING: redis-cli not found: cannot check that Redis holds rate-limit keys.**"
      echo
    fi
    errs=$(grep -c 'rate limit store error' "$TMP/tollgate-redis.err" || true)
    if [[ "$errs" != 0 ]]; then
      echo "**WARNING: tollgate-redis logged $errs rate-limit store error line(s) (at most one per second; --redis-timeout-ms is the default 50): some requests were allowed without a Redis round trip (fail open), which flatters the Redis row.**"
      echo
      log "WARNING: tollgate-redis logged $errs rate-limit store error line(s)"
    fi
  fi
}

if [[ "$RATELIMIT" != 0 ]]; then
  echo
  ratelimit_section
else
  log "rate-limit section skipped (RATELIMIT=0)"
fi

# ---- 7. observability: what metrics and the access log cost ------------------------------------
# The non-stream wrk load (chat.lua, same connection counts and DURATION) through three more
# tollgates on the same YAML that differ only in observability:
#   obs-off      --metrics off --access-log off   (the baseline)
#   obs-metrics  --metrics on  --access-log off
#   obs-log      --metrics on  --access-log $TMP/obs-access.log
# The tollgates of the other sections keep the default --metrics on (and --access-log off), so
# their rows include the cost of metrics; this section is the only one with metrics off.
OBS_ALOG=""
declare -A OBS_LINES_BEFORE OBS_LINES_DELTA
lines_of() { if [[ -f "$1" ]]; then wc -l <"$1"; else echo 0; fi; }
# BEFORE_MEASURE hook: the access-log line count just before obs-log's measurement (after a short
# pause, so that the lines of requests the warm-up left in flight are in).
obs_before_measure() {
  [[ "$1" == obs-log ]] || return 0
  sleep 0.2
  OBS_LINES_BEFORE[$2]=$(lines_of "$OBS_ALOG")
}
# admin address, output file -> sum of every tollgate_requests_total series, "" if unreachable.
requests_total() {
  curl -sf -m 5 -o "$2" "http://$1/metrics" || { echo ""; return 0; }
  awk '$1 ~ /^tollgate_requests_total($|[{])/ { s += $NF } END { printf "%d\n", s }' "$2"
}

observability_section() {
  OBS_ALOG="$TMP/obs-access.log"
  local -a obs_targets=(obs-off obs-metrics obs-log)
  local -A label=([obs-off]="baseline (metrics off, access log off)" [obs-metrics]="metrics on"
                  [obs-log]="metrics on + access log")
  local -A admin
  start_tollgate tollgate-obs-off "$TMP/tollgate.yaml" --metrics off --access-log off
  URL[obs-off]="http://$TGX_ADDR"; admin[obs-off]=$TGX_ADMIN
  start_tollgate tollgate-obs-metrics "$TMP/tollgate.yaml" --metrics on --access-log off
  URL[obs-metrics]="http://$TGX_ADDR"; admin[obs-metrics]=$TGX_ADMIN
  start_tollgate tollgate-obs-log "$TMP/tollgate.yaml" --metrics on --access-log "$OBS_ALOG"
  URL[obs-log]="http://$TGX_ADDR"; admin[obs-log]=$TGX_ADMIN

  # Functional check (one request each, counted below): each answers a chat completion.
  local t c k base resp code
  for t in "${obs_targets[@]}"; do
    resp=$(curl -s -m 5 -w '\n%{http_code}' -H 'content-type: application/json' \
      -d "$CHECK_BODY" "${URL[$t]}/v1/chat/completions" || true)
    code=${resp##*$'\n'}
    if [[ "$code" != 200 || "$resp" != *'"chat.completion"'* ]]; then
      cat "$TMP/tollgate-$t.err" >&2
      die "$t (${URL[$t]}) did not answer a chat completion: HTTP $code: ${resp%$'\n'*}"
    fi
  done

  BEFORE_MEASURE=obs_before_measure
  for c in $CONNS; do
    for t in "${obs_targets[@]}"; do
      run_wrk "$t" "$c"
      if [[ "$t" == obs-log ]]; then
        sleep 0.3   # the lines of the requests wrk left in flight when it stopped
        OBS_LINES_DELTA[$c]=$(( $(lines_of "$OBS_ALOG") - ${OBS_LINES_BEFORE[$c]} ))
      fi
    done
  done
  BEFORE_MEASURE=""

  # Requests each gateway served in this section, as wrk counted them: warm-ups + measurements +
  # the functional check. wrk does not count the requests in flight when it stops (up to one per
  # connection per wrk run), which the gateway may still have answered and recorded.
  local -A served slack
  for t in "${obs_targets[@]}"; do
    served[$t]=1; slack[$t]=0
    for c in $CONNS; do
      served[$t]=$(( ${served[$t]} + ${WARM_REQS[$t:$c]} + ${REQS[$t:$c]} ))
      slack[$t]=$(( ${slack[$t]} + 2 * c ))
    done
  done

  # /metrics: the metrics gateway must have counted the requests; the baseline must not have.
  local m_sum off_sum
  m_sum=$(requests_total "${admin[obs-metrics]}" "$TMP/obs-metrics.metrics")
  off_sum=$(requests_total "${admin[obs-off]}" "$TMP/obs-off.metrics")

  # The access log: lines, JSON objects, status 200.
  local alog_counts a_lines a_json a_200
  alog_counts=$(python3 - "$OBS_ALOG" <<'PYEOF'
import json, sys
n = j = ok = 0
try:
    with open(sys.argv[1], "rb") as f:
        for line in f:
            n += 1
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if isinstance(o, dict):
                j += 1
                ok += o.get("status") == 200
except FileNotFoundError:
    pass
print(n, j, ok)
PYEOF
)
  read -r a_lines a_json a_200 <<<"$alog_counts"

  echo "## Observability: metrics and access log (non-stream, chat.lua)"
  echo
  echo "The load of the first table, through three more tollgates on the same YAML that differ only in"
  echo "\`--metrics\` and \`--access-log\`, interleaved per connection count. The baseline has both off; the"
  echo "tollgates of the other sections run with the default \`--metrics on\` (and \`--access-log off\`)."
  echo "The access log goes to a file in the temp dir ($(df -T "$TMP" 2>/dev/null | awk 'NR == 2 {print $2}') file system)."
  echo
  echo "| config | connections | req/s | p50 ms | p99 ms | errors | req/s vs baseline | p99 added vs baseline ms |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for c in $CONNS; do
    base="obs-off:$c"
    for t in "${obs_targets[@]}"; do
      k="$t:$c"
      printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "${label[$t]}" "$c" "$(calc .0f "${RPS[$k]}")" \
        "$(calc .2f "${P50[$k]}")" "$(calc .2f "${P99[$k]}")" "${ERRS[$k]}" \
        "$(calc .2f "${RPS[$k]} / ${RPS[$base]}")" \
        "$( [[ $t == obs-off ]] && echo - || calc +.2f "${P99[$k]} - ${P99[$base]}")"
    done
  done
  echo
  local cmax=0
  for c in $CONNS; do if (( c > cmax )); then cmax=$c; fi; done
  local caveat=""
  [[ -n "$off_sum" && "$off_sum" != 0 ]] && caveat=" **Not a measure of the metrics cost: the baseline recorded metrics too (WARNING below).**"
  echo "Overhead at $cmax connections (req/s lost vs the baseline; negative = faster, i.e. noise):" \
    "metrics $(calc +.1f "(1 - ${RPS[obs-metrics:$cmax]} / ${RPS[obs-off:$cmax]}) * 100") %" \
    "(p99 $(calc +.2f "${P99[obs-metrics:$cmax]} - ${P99[obs-off:$cmax]}") ms)," \
    "metrics + access log $(calc +.1f "(1 - ${RPS[obs-log:$cmax]} / ${RPS[obs-off:$cmax]}) * 100") %" \
    "(p99 $(calc +.2f "${P99[obs-log:$cmax]} - ${P99[obs-off:$cmax]}") ms).$caveat"
  echo

  # Did the metrics record?
  if [[ -z "$m_sum" ]]; then
    echo "**WARNING: could not fetch /metrics from the metrics-on gateway (admin ${admin[obs-metrics]}).**"
    log "WARNING: could not fetch /metrics from tollgate-obs-metrics"
  else
    echo "Metrics on: \`GET /metrics\` on its admin port after its runs: \`tollgate_requests_total\` (sum over its series) = **$m_sum**;" \
      "wrk completed ${served[obs-metrics]} requests against it (warm-ups and the functional check included; up to ${slack[obs-metrics]} more may have been answered after wrk stopped counting)."
    if [[ "$m_sum" == 0 ]]; then
      echo
      echo "**WARNING: tollgate_requests_total is 0 on the metrics-on gateway: its row measured no metrics recording.**"
      log "WARNING: tollgate_requests_total is 0 on tollgate-obs-metrics"
    fi
  fi
  echo
  if [[ -z "$off_sum" ]]; then
    echo "**WARNING: could not fetch /metrics from the baseline gateway (admin ${admin[obs-off]}).**"
  elif [[ "$off_sum" != 0 ]]; then
    echo "**WARNING: the baseline (--metrics off) reports tollgate_requests_total = $off_sum: it recorded metrics, so it is not a baseline.**"
    log "WARNING: tollgate_requests_total is $off_sum on tollgate-obs-off (--metrics off)"
  else
    echo "Baseline: \`tollgate_requests_total\` absent or 0 on its \`/metrics\`, as expected with \`--metrics off\`."
  fi
  echo

  # Did the access log record?
  echo "Access log \`$OBS_ALOG\`: per measurement, wrk's request count and the lines the file gained during it:"
  echo
  echo "| connections | wrk requests | access-log lines | difference |"
  echo "|---:|---:|---:|---:|"
  for c in $CONNS; do
    printf '| %s | %s | %s | %+d |\n' "$c" "${REQS[obs-log:$c]}" "${OBS_LINES_DELTA[$c]}" \
      "$(( ${OBS_LINES_DELTA[$c]} - ${REQS[obs-log:$c]} ))"
  done
  echo
  echo "Whole file after the runs: **$a_lines lines, $a_json JSON objects** ($a_200 with status 200);" \
    "wrk completed **${served[obs-log]} requests** against that gateway (warm-ups and the functional check" \
    "included; up to ${slack[obs-log]} more may have been answered after wrk stopped counting)."
  echo
  if [[ "$a_lines" == 0 ]]; then
    echo "**WARNING: the access log file is empty (or missing): the access-log row measured no logging.**"
    echo
    log "WARNING: the access log $OBS_ALOG is empty"
  elif (( a_json < served[obs-log] - served[obs-log] / 100 || a_json > served[obs-log] + slack[obs-log] + served[obs-log] / 100 )); then
    echo "**WARNING: the access log holds $a_json JSON lines for ${served[obs-log]} requests wrk reported: not about one line per request.**"
    echo
    log "WARNING: access log: $a_json JSON lines vs ${served[obs-log]} requests"
  fi
  log "access log: $a_lines lines ($a_json JSON, $a_200 status 200) vs ${served[obs-log]} requests; tollgate_requests_total on obs-metrics: ${m_sum:-unreachable}"
}

if [[ "$OBSERVABILITY" != 0 ]]; then
  echo
  observability_section
else
  log "observability section skipped (OBSERVABILITY=0)"
fi

# ---- 8. Bedrock: translation and SigV4 signing cost --------------------------------------------
# A second mock-llm serves the Bedrock routes (no --aws-credentials: wrk cannot sign the direct
# requests, and verifying on one side only would skew the comparison; the signatures themselves
# are verified in the tests). tollgate routes the Claude model to it as the blueprint does
# (AWSAnthropic, AWSCredentials policy, credentials from the environment).
bedrock_section() {
  "$TG" mock-llm --listen 127.0.0.1:0 --threads "$MOCK_THREADS" --log-level info \
    >"$TMP/bmock.out" 2>"$TMP/bmock.err" &
  local bmock_pid=$! line
  PIDS+=("$bmock_pid")
  BMOCK_ADDR=$(wait_for_line "$TMP/bmock.err" 'mock-llm ready listen=[^ ]+' "$bmock_pid" bedrock-mock)
  BMOCK_ADDR=${BMOCK_ADDR#*listen=}
  cat >"$TMP/bedrock.yaml" <<'EOF'
# Written by bench/load/run.sh: the blueprint's Bedrock backend shape.
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: bedrock-backend}
spec: {endpoints: [{fqdn: {hostname: bedrock-runtime.us-east-1.amazonaws.com, port: 443}}]}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: {name: claude}
spec:
  schema: {name: AWSAnthropic, version: bedrock-2023-05-31}
  backendRef: {name: bedrock-backend, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: {name: claude-aws}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: claude}]
  type: AWSCredentials
  awsCredentials: {region: us-east-1}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: {name: claude}
spec:
  rules:
    - matches: [{headers: [{name: x-ai-eg-model, type: Exact, value: "anthropic.claude-3-haiku-20240307-v1:0"}]}]
      backendRefs: [{name: claude}]
EOF
  AWS_ACCESS_KEY_ID=AKIDBENCHMARK0000001 AWS_SECRET_ACCESS_KEY=bench/secret/key AWS_SESSION_TOKEN=bench-session-token \
    AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent \
    env -u TOLLGATE_REDIS_URL "$TG" run -c "$TMP/bedrock.yaml" --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
    --threads "$TOLLGATE_THREADS" --access-log off --backend-endpoint "bedrock-backend=$BMOCK_ADDR" \
    >"$TMP/tg-bedrock.out" 2>"$TMP/tg-bedrock.err" &
  local tg_pid=$!
  PIDS+=("$tg_pid")
  line=$(wait_for_line "$TMP/tg-bedrock.err" 'tollgate ready listen=[^ ]+ admin=[^ ]+' "$tg_pid" tollgate-bedrock)
  URL[bedrock-direct]="http://$BMOCK_ADDR"
  URL[bedrock-tollgate]="http://$(sed 's/.*listen=\([^ ]*\).*/\1/' <<<"$line")"

  # Functional check (not timing): through tollgate the answer is an Anthropic message.
  local resp
  resp=$(curl -s -m 5 -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
    -d '{"model":"anthropic.claude-3-haiku-20240307-v1:0","max_tokens":8,"messages":[{"role":"user","content":"ping"}]}' \
    "${URL[bedrock-tollgate]}/anthropic/v1/messages" || true)
  [[ "$resp" == *'"type":"message"'* ]] || { cat "$TMP/tg-bedrock.err" >&2; die "tollgate → fake Bedrock did not answer: $resp"; }

  local stream c k
  for stream in 0 1; do
    for c in $CONNS; do
      run_wrk bedrock-direct "$c" bedrock.lua direct "$stream"
      for k in RPS P99 ERRS; do eval "$k[bd:$stream:$c]=\${$k[bedrock-direct:$c]}"; done
      run_wrk bedrock-tollgate "$c" bedrock.lua gateway "$stream"
      for k in RPS P99 ERRS; do eval "$k[bt:$stream:$c]=\${$k[bedrock-tollgate:$c]}"; done
    done
  done

  echo "## Bedrock: Anthropic Messages → AWSAnthropic InvokeModel (~1 KB request, max_tokens 16)"
  echo
  echo "direct: the InvokeModel request sent to the fake Bedrock; tollgate: the Anthropic request,"
  echo "translated, SigV4-signed (credentials from the environment), answer or event stream translated back."
  echo
  echo "| mode | connections | direct req/s | tollgate req/s | tollgate/direct | direct p99 ms | tollgate p99 ms | p99 added ms | errors (d/t) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  local mode
  for stream in 0 1; do
    mode=$([[ $stream == 1 ]] && echo stream || echo non-stream)
    for c in $CONNS; do
      printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s/%s |\n' "$mode" "$c" \
        "$(calc .0f "${RPS[bd:$stream:$c]}")" "$(calc .0f "${RPS[bt:$stream:$c]}")" \
        "$(calc .2f "${RPS[bt:$stream:$c]} / ${RPS[bd:$stream:$c]}")" \
        "$(calc .2f "${P99[bd:$stream:$c]}")" "$(calc .2f "${P99[bt:$stream:$c]}")" \
        "$(calc +.2f "${P99[bt:$stream:$c]} - ${P99[bd:$stream:$c]}")" \
        "${ERRS[bd:$stream:$c]}" "${ERRS[bt:$stream:$c]}"
    done
  done
  echo

  # SigV4 alone, from the micro benchmark (built on demand; needs libbenchmark-dev).
  local mb="$ROOT/build/micro_bench"
  if cmake --build "$ROOT/build" --target micro_bench >"$TMP/micro_build.out" 2>&1 && [[ -x "$mb" ]]; then
    "$mb" --benchmark_filter='BM_SignBedrockInvoke' --benchmark_min_time=0.5 \
      --benchmark_format=csv >"$TMP/micro.csv" 2>"$TMP/micro.err" || true
    echo "SigV4 signing per request (build/micro_bench, CPU time, one thread):"
    echo
    echo "| body bytes | ns/request |"
    echo "|---:|---:|"
    awk -F, '/^"BM_SignBedrockInvoke\// { split($1, a, "/"); gsub(/"/, "", a[2]); printf "| %s | %.0f |\n", a[2], $4 }' "$TMP/micro.csv"
    echo
  else
    log "micro_bench not built (see $TMP/micro_build.out); SigV4 micro numbers skipped"
  fi
}

if [[ "$BEDROCK" != 0 ]]; then
  echo
  bedrock_section
else
  log "Bedrock section skipped (BEDROCK=0)"
fi

# ---- 9. Responses pass-through next to chat completions ---------------------------------------
# The same prompt as chat.lua sent to the mock directly and through the tollgate above, as a chat
# completion and as a Responses request (instructions + input), non-stream and streamed: what the
# Responses relay (its event parsing and usage reading) adds, next to chat's in the same run.
responses_section() {
  local resp
  resp=$(curl -s -m 5 -H 'content-type: application/json' \
    -d '{"model":"Qwen/Qwen3-1.7B","input":"ping","max_output_tokens":8}' \
    "${URL[tollgate]}/v1/responses" || true)
  [[ "$resp" == *'"object":"response"'* ]] || die "tollgate did not answer a Responses request: $resp"
  local api stream c t
  for stream in 0 1; do
    for c in $CONNS; do
      for api in chat responses; do
        for t in direct tollgate; do
          BENCH_API=$api BENCH_STREAM=$stream run_wrk "$t" "$c"
          RPS[r:$api:$t:$stream:$c]=${RPS[$t:$c]}; P50[r:$api:$t:$stream:$c]=${P50[$t:$c]}
          P99[r:$api:$t:$stream:$c]=${P99[$t:$c]}; ERRS[r:$api:$t:$stream:$c]=${ERRS[$t:$c]}
        done
      done
    done
  done
  echo "## Responses pass-through next to chat completions (~1 KB prompt, 16 output tokens)"
  echo
  echo "| API | mode | connections | direct req/s | tollgate req/s | tollgate/direct | p50 added ms | p99 added ms | errors (d/t) |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
  local mode k d
  for stream in 0 1; do
    mode=$([[ $stream == 1 ]] && echo stream || echo non-stream)
    for c in $CONNS; do
      for api in chat responses; do
        k="r:$api:tollgate:$stream:$c"; d="r:$api:direct:$stream:$c"
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s/%s |\n' "$api" "$mode" "$c" \
          "$(calc .0f "${RPS[$d]}")" "$(calc .0f "${RPS[$k]}")" "$(calc .2f "${RPS[$k]} / ${RPS[$d]}")" \
          "$(calc +.3f "${P50[$k]} - ${P50[$d]}")" "$(calc +.3f "${P99[$k]} - ${P99[$d]}")" \
          "${ERRS[$d]}" "${ERRS[$k]}"
      done
    done
  done
  echo
}

if [[ "$RESPONSES" != 0 ]]; then
  echo
  responses_section
else
  log "Responses section skipped (RESPONSES=0)"
fi
