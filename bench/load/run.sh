#!/usr/bin/env bash
# tollgate load benchmark: the same requests sent directly to the mock model server, through nginx
# (a plain keep-alive reverse proxy: the floor for "a proxy in the path") and through tollgate.
#
#   bench/load/run.sh                  # 10 s per measurement, 16 and 64 connections
#   QUICK=1 bench/load/run.sh          # 2 s smoke run
#   DURATION=30s CONNS="16 64 256" TOLLGATE_THREADS=1 bench/load/run.sh
#   RATELIMIT=0 bench/load/run.sh      # skip the rate-limit section (no limit / in-process / Redis)
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
echo "- tollgate: $TG @ $GIT_REV, --threads $TOLLGATE_THREADS, --access-log off"
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
# explicit --redis flag selects the Redis store.
start_tollgate() {
  local name=$1 yaml=$2 line; shift 2
  env -u TOLLGATE_REDIS_URL "$TG" run -c "$yaml" --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
    --threads "$TOLLGATE_THREADS" --access-log off \
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
declare -A RPS P50 P99 ERRS
# target conns [script [script args...]] -> sets RPS/P50/P99/ERRS[target:conns]. The script
# defaults to chat.lua; its arguments go to wrk after `--`.
run_wrk() {
  local t=$1 c=$2 script=${3:-chat.lua} th=$WRK_THREADS out="$TMP/wrk.$1.$2.out" line
  local -a sargs=("${@:4}")
  (( th > c )) && th=$c
  if [[ "$WARM_S" != 0 ]]; then
    measure "$out.warm" timeout -k 5 $((WARM_S + 30)) wrk -t"$th" -c"$c" -d"$WARMUP" --timeout 5s \
      -s "$HERE/$script" "${URL[$t]}" -- "${sargs[@]}" \
      || { cat "$out.warm" >&2; die "wrk warm-up against $t failed"; }
  fi
  measure "$out" timeout -k 5 $((DUR_S + 30)) wrk -t"$th" -c"$c" -d"$DURATION" --timeout 5s \
    -s "$HERE/$script" "${URL[$t]}" -- "${sargs[@]}" || { cat "$out" >&2; die "wrk against $t failed"; }
  line=$(grep '^RESULT ' "$out" | tail -1)
  [[ -n "$line" ]] || { cat "$out" >&2; die "no RESULT line from wrk against $t"; }
  local k="$t:$c"
  RPS[$k]=$(field rps "$line"); P50[$k]=$(field p50_ms "$line"); P99[$k]=$(field p99_ms "$line")
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
