#!/usr/bin/env bash
# tollgate soak test: a bounded run (10 minutes by default) of mixed streaming and non-streaming
# load through one tollgate with a Redis rate limiter, two mock model servers with injected faults
# (503s, streams cut halfway) behind a priority fallback and a weighted split, clients walking
# away mid-stream, and a configuration reload every RELOAD_EVERY (some of them invalid on purpose).
#
#   bench/soak.sh                        # 10 minutes
#   SOAK_DURATION=2m bench/soak.sh       # a quick run
#   TOLLGATE_BIN=/path/to/tollgate SOAK_DURATION=30m bench/soak.sh > soak.md
#
# Every minute it prints the gateway's RSS, peak RSS, open file descriptors, requests, errors by
# class and active streams; at the end, RSS after warm-up vs the last minute, descriptors before vs
# after, and the accounting: tokens the access log says were charged vs the Redis counters, requests
# the mocks served vs the attempts the gateway counted, metrics vs access log vs what the client saw.
#
# No timing assertions. Exit status 0 unless something failed to start or an invariant broke (the
# gateway died, a count does not match, reloads went missing, a stream or connection stayed open
# after the load, memory more than doubled). Markdown report on stdout, progress on stderr.
# Everything listens on 127.0.0.1 on free ports; every process it starts is stopped on exit. See
# bench/README.md ("bench/soak.sh").
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
TG=${TOLLGATE_BIN:-$ROOT/build/tollgate}
NGINX=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
REDIS_SERVER=${REDIS_SERVER_BIN:-$(command -v redis-server || true)}
REDIS_CLI=${REDIS_CLI_BIN:-$(command -v redis-cli || true)}
NPROC=$(nproc)

# ---- knobs -------------------------------------------------------------------------------------
SOAK_DURATION=${SOAK_DURATION:-10m}
RELOAD_EVERY=${RELOAD_EVERY:-30s}
BAD_RELOAD_EVERY=${BAD_RELOAD_EVERY:-5}     # every Nth reload is an invalid config (0: never)
REPORT_EVERY=${REPORT_EVERY:-60s}           # a progress row
SAMPLE_EVERY=${SAMPLE_EVERY:-10s}           # RSS / fds samples (the verdict uses them)
SOAK_CONCURRENCY=${SOAK_CONCURRENCY:-48}    # client workers, one request in flight each
SOAK_USERS=${SOAK_USERS:-40}                # x-user-id values, round-robin
SOAK_CAPPED_USERS=${SOAK_CAPPED_USERS:-4}   # of which share a small hourly token budget
SOAK_CAPPED_LIMIT=${SOAK_CAPPED_LIMIT:-20000}  # that budget, tokens per Hour ...
SOAK_CAPPED_STEP=${SOAK_CAPPED_STEP:-5000}  # ... raised by this much at every valid reload
SOAK_STREAM_RATIO=${SOAK_STREAM_RATIO:-0.5}
SOAK_GPT_RATIO=${SOAK_GPT_RATIO:-0.3}       # share of requests for the weighted-split model
SOAK_ABORT_RATIO=${SOAK_ABORT_RATIO:-0.02}  # streams the client abandons after the first chunk
FAIL_RATE=${FAIL_RATE:-0.02}                # mock-llm --fail-rate (503) on both mocks
STREAM_ERROR_RATE=${STREAM_ERROR_RATE:-0.02}  # mock-llm --stream-error-rate on both mocks
MOCK_LATENCY_MS=${MOCK_LATENCY_MS:-2}       # non-stream answers
MOCK_TTFT_MS=${MOCK_TTFT_MS:-5}
MOCK_ITL_MS=${MOCK_ITL_MS:-2}
TOLLGATE_THREADS=${TOLLGATE_THREADS:-$NPROC}
COUNT_PROXY=${COUNT_PROXY:-1}               # nginx in front of the mocks counts what they served
SOAK_SEED=${SOAK_SEED:-1}

# ---- helpers -----------------------------------------------------------------------------------
BENCH_TAG=soak
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

PIDS=()      # servers: mocks, nginx, redis, tollgate (stopped in reverse order)
CHILD=""     # the load client while it runs
TMP=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local pid i
  [[ -n "$CHILD" ]] && { kill -TERM "$CHILD" 2>/dev/null || true; wait "$CHILD" 2>/dev/null || true; }
  for (( i = ${#PIDS[@]} - 1; i >= 0; i-- )); do kill -TERM "${PIDS[$i]}" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n "$TMP" && -d "$TMP" ]]; then
    if [[ -n "${SOAK_KEEP:-}" ]]; then log "kept $TMP (SOAK_KEEP)"; else rm -rf "$TMP"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Sleep that a signal interrupts at once (bash defers traps while a foreground command runs).
nap() { sleep "$1" & wait $! || true; }


# A child that exited stays a zombie until waited for, and kill -0 succeeds on a zombie.
alive() { [[ -r /proc/$1/status ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
proc_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fd_count() { { ls "/proc/$1/fd" 2>/dev/null || true; } | wc -l; }
CLK_TCK=$(getconf CLK_TCK)
cpu_secs() { awk -v hz="$CLK_TCK" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# Prometheus text in $1: sum of the series whose name{labels} matches the ERE $2.
msum() { awk -v re="$2" '$1 !~ /^#/ && $1 ~ re { s += $NF } END { printf "%d\n", s }' "$1"; }
# calc FORMAT EXPR: awk arithmetic, printf-formatted.
calc() { awk "BEGIN { printf \"%$1\", $2 }"; }
fetch_metrics() { curl -sf -m 5 -o "$1" "http://$TG_ADMIN/metrics"; }

# ---- preflight ---------------------------------------------------------------------------------
for tool in node curl python3; do command -v "$tool" >/dev/null || die "$tool not found"; done
[[ -n "$REDIS_SERVER" && -x "$REDIS_SERVER" ]] || die "redis-server not found (set REDIS_SERVER_BIN)"
[[ -n "$REDIS_CLI" && -x "$REDIS_CLI" ]] || die "redis-cli not found (set REDIS_CLI_BIN)"
if [[ "$COUNT_PROXY" != 0 && ! -x "$NGINX" ]]; then
  log "nginx not found (set NGINX_BIN): the mocks' served counts will be missing"
  COUNT_PROXY=0
fi
for _ in $(seq 1 120); do [[ -x "$TG" ]] && break; sleep 1; done
[[ -x "$TG" ]] || die "$TG not found (build it first, or set TOLLGATE_BIN)"
DUR_S=$(to_secs "$SOAK_DURATION"); RELOAD_S=$(to_secs "$RELOAD_EVERY")
REPORT_S=$(to_secs "$REPORT_EVERY"); SAMPLE_S=$(to_secs "$SAMPLE_EVERY")
for v in DUR_S RELOAD_S REPORT_S SAMPLE_S SOAK_CONCURRENCY SOAK_USERS SOAK_CAPPED_LIMIT; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive whole number (got '${!v}')"
done
(( DUR_S >= 60 )) || die "SOAK_DURATION must be at least 1m"
# Warm-up: the first minute (a quarter of shorter runs). The RSS verdict compares the window right
# after it with the last window of the load, each min(60 s, half of what is left) long.
WARMUP_S=${SOAK_WARMUP_S:-$(( DUR_S >= 240 ? 60 : DUR_S / 4 ))}
RSS_WINDOW_S=$(( (DUR_S - WARMUP_S) / 2 < 60 ? (DUR_S - WARMUP_S) / 2 : 60 ))

TMP=$(mktemp -d /tmp/tollgate-soak.XXXXXX)
chmod 755 "$TMP"

GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)

# ---- mocks -------------------------------------------------------------------------------------
start_mock() {
  local name=$1 addr
  "$TG" mock-llm --listen 127.0.0.1:0 --threads 1 --latency-ms "$MOCK_LATENCY_MS" \
    --ttft-ms "$MOCK_TTFT_MS" --itl-ms "$MOCK_ITL_MS" --fail-rate "$FAIL_RATE" \
    --stream-error-rate "$STREAM_ERROR_RATE" --log-level info >"$TMP/$name.out" 2>"$TMP/$name.err" &
  local pid=$!; PIDS+=("$pid")
  addr=$(wait_for_line "$TMP/$name.err" 'mock-llm ready listen=[^ ]+' "$pid" "$name")
  echo "${addr#*listen=}"
}
MOCK_A=$(start_mock mock-a)
MOCK_B=$(start_mock mock-b)
log "mock-a on $MOCK_A, mock-b on $MOCK_B (fail rate $FAIL_RATE, stream error rate $STREAM_ERROR_RATE)"

# ---- the counting proxy: nginx in front of each mock, one access-log line per request ------------
# mock-llm keeps its served count to itself, so nginx stands at the mocks' door and logs every
# request with the x-request-id tollgate forwards: the checker joins that with the access log.
FRONT_A=$MOCK_A; FRONT_B=$MOCK_B
NGX_LOG=""
if [[ "$COUNT_PROXY" != 0 ]]; then
  NGX_DIR="$TMP/nginx"; mkdir -p "$NGX_DIR"
  NGX_LOG="$NGX_DIR/mocks.log"
  PORT_A=$(free_port); PORT_B=$(free_port)
  cat >"$NGX_DIR/nginx.conf" <<EOF
# Written by bench/soak.sh: counts the requests each mock serves; relays bytes unchanged.
daemon off;
worker_processes 1;
pid $NGX_DIR/nginx.pid;
error_log $NGX_DIR/error.log warn;
events { worker_connections 4096; }
http {
    log_format soak '\$http_x_request_id \$server_port \$status \$upstream_status \$body_bytes_sent';
    access_log $NGX_LOG soak;
    client_body_temp_path $NGX_DIR/client_body;
    proxy_temp_path $NGX_DIR/proxy;
    fastcgi_temp_path $NGX_DIR/fastcgi;
    uwsgi_temp_path $NGX_DIR/uwsgi;
    scgi_temp_path $NGX_DIR/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_buffering off;
    proxy_next_upstream off;
    proxy_read_timeout 60s;
    upstream mock_a { server $MOCK_A; keepalive 128; keepalive_requests 1000000; }
    upstream mock_b { server $MOCK_B; keepalive 128; keepalive_requests 1000000; }
    server { listen 127.0.0.1:$PORT_A; location / { proxy_pass http://mock_a; } }
    server { listen 127.0.0.1:$PORT_B; location / { proxy_pass http://mock_b; } }
}
EOF
  "$NGINX" -p "$NGX_DIR" -c "$NGX_DIR/nginx.conf" -e "$NGX_DIR/error.log" \
    >"$NGX_DIR/stdout" 2>"$NGX_DIR/stderr" &
  NGX_PID=$!; PIDS+=("$NGX_PID")
  for port in "$PORT_A" "$PORT_B"; do
    for i in $(seq 1 200); do
      code=$(curl -s -o /dev/null -w '%{http_code}' -H 'x-request-id: soak-probe' \
        "http://127.0.0.1:$port/health" 2>/dev/null || true)
      [[ "$code" == 200 ]] && break
      kill -0 "$NGX_PID" 2>/dev/null || { cat "$NGX_DIR/stderr" "$NGX_DIR/error.log" >&2 2>/dev/null; die "nginx exited"; }
      [[ $i == 200 ]] && { cat "$NGX_DIR/error.log" >&2 2>/dev/null; die "nginx not ready after 10 s"; }
      sleep 0.05
    done
  done
  FRONT_A=127.0.0.1:$PORT_A; FRONT_B=127.0.0.1:$PORT_B
  log "nginx (pid $NGX_PID) counts mock-a at $FRONT_A, mock-b at $FRONT_B"
fi

# ---- redis -------------------------------------------------------------------------------------
REDIS_PORT=$(free_port)
mkdir -p "$TMP/redis"
"$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP/redis" \
  >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!; PIDS+=("$REDIS_PID")
for i in $(seq 1 200); do
  [[ "$("$REDIS_CLI" -p "$REDIS_PORT" ping 2>/dev/null || true)" == PONG ]] && break
  kill -0 "$REDIS_PID" 2>/dev/null || { cat "$TMP/redis.log" >&2; die "redis-server exited"; }
  [[ $i == 200 ]] && die "redis-server not ready after 10 s"
  sleep 0.05
done
REDIS_VERSION=$("$REDIS_SERVER" --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')
log "redis-server $REDIS_VERSION on 127.0.0.1:$REDIS_PORT (pid $REDIS_PID)"

# ---- configuration -----------------------------------------------------------------------------
# Qwen: mock-a first, mock-b as the priority-1 fallback. gpt-oss: split between both by weight.
# Rate limits, all on x-user-id: rule 0 a per-user daily token ledger and rule 1 a per-user daily
# request ledger (limits no one reaches: they exist to be compared with the access log), rule 2 an
# hourly token budget shared by the soak-capped-* users, raised at every valid reload, so those
# users alternate between refused and admitted for the whole run.
CFG="$TMP/soak.yaml"
GOOD_RELOADS=0; BAD_RELOADS=0
capped_limit() { echo $(( SOAK_CAPPED_LIMIT + GOOD_RELOADS * SOAK_CAPPED_STEP )); }
write_config() {  # $1 = "good" or "bad"
  local wa=3 wb=1 unit=Hour
  (( GOOD_RELOADS % 2 == 1 )) && { wa=1; wb=3; }
  [[ "$1" == bad ]] && unit=Fortnight   # a validation error: the reload must be refused
  cat >"$CFG.tmp" <<EOF
# Written by bench/soak.sh (valid reloads so far: $GOOD_RELOADS, kind: $1).
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: soak-gateway, namespace: default}
spec:
  gatewayClassName: envoy-gateway
  listeners: [{name: http, port: 1975, protocol: HTTP}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: mock-a, namespace: default}
spec: {endpoints: [{ip: {address: 127.0.0.1, port: 8000}}]}   # replaced by --backend-endpoint
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: mock-b, namespace: default}
spec: {endpoints: [{ip: {address: 127.0.0.1, port: 8001}}]}   # replaced by --backend-endpoint
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: {name: model-a, namespace: default}
spec:
  schema: {name: OpenAI}
  backendRef: {name: mock-a, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: {name: model-b, namespace: default}
spec:
  schema: {name: OpenAI}
  backendRef: {name: mock-b, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: {name: soak-route, namespace: default}
spec:
  parentRefs: [{name: soak-gateway, kind: Gateway, group: gateway.networking.k8s.io}]
  rules:
    - matches: [{headers: [{name: x-ai-eg-model, type: Exact, value: Qwen/Qwen3-1.7B}]}]
      backendRefs:
        - {name: model-a, priority: 0}
        - {name: model-b, priority: 1}
    - matches: [{headers: [{name: x-ai-eg-model, type: Exact, value: openai/gpt-oss-20b}]}]
      backendRefs:
        - {name: model-a, weight: $wa}
        - {name: model-b, weight: $wb}
  llmRequestCosts:
    - {metadataKey: llm_total_token, type: TotalToken}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: soak-limits, namespace: default}
spec:
  targetRefs: [{name: soak-gateway, kind: Gateway, group: gateway.networking.k8s.io}]
  rateLimit:
    type: Global
    global:
      rules:
        - clientSelectors: [{headers: [{name: x-user-id, type: Distinct}]}]
          limit: {requests: 1000000000000, unit: Day}
          cost:
            request: {from: Number, number: 0}
            response: {from: Metadata, metadata: {namespace: io.envoy.ai_gateway, key: llm_total_token}}
        - clientSelectors: [{headers: [{name: x-user-id, type: Distinct}]}]
          limit: {requests: 1000000000000, unit: Day}
          cost:
            request: {from: Number, number: 1}
        - clientSelectors: [{headers: [{name: x-user-id, type: RegularExpression, value: "soak-capped-.*"}]}]
          limit: {requests: $(capped_limit), unit: $unit}
          cost:
            request: {from: Number, number: 0}
            response: {from: Metadata, metadata: {namespace: io.envoy.ai_gateway, key: llm_total_token}}
EOF
  mv "$CFG.tmp" "$CFG"
}
write_config good
"$TG" validate -c "$CFG" >"$TMP/validate.out" 2>&1 || { cat "$TMP/validate.out" >&2; die "the soak config does not validate"; }
grep -q 'valid: 0 error(s), 0 warning(s)' "$TMP/validate.out" || { cat "$TMP/validate.out" >&2; die "the soak config has warnings"; }

# ---- tollgate ----------------------------------------------------------------------------------
ACCESS_LOG="$TMP/access.log"
env -u TOLLGATE_REDIS_URL "$TG" run -c "$CFG" --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
  --threads "$TOLLGATE_THREADS" --redis "redis://127.0.0.1:$REDIS_PORT" \
  --backend-endpoint "mock-a=$FRONT_A" --backend-endpoint "mock-b=$FRONT_B" \
  --access-log "$ACCESS_LOG" --watch-interval-ms 0 --log-level info \
  >"$TMP/tollgate.out" 2>"$TMP/tollgate.err" &
TG_PID=$!; PIDS+=("$TG_PID")
line=$(wait_for_line "$TMP/tollgate.err" 'tollgate ready listen=[^ ]+ admin=[^ ]+' "$TG_PID" tollgate)
TG_ADDR=$(sed 's/.*listen=\([^ ]*\).*/\1/' <<<"$line")
TG_ADMIN=$(sed 's/.*admin=\([^ ]*\).*/\1/' <<<"$line")
grep -q 'redis store' "$TMP/tollgate.err" || { cat "$TMP/tollgate.err" >&2; die "tollgate did not select the Redis store"; }
for i in $(seq 1 100); do
  grep -q "redis 127.0.0.1:$REDIS_PORT: connected" "$TMP/tollgate.err" && break
  [[ $i == 100 ]] && { cat "$TMP/tollgate.err" >&2; die "tollgate did not connect to Redis"; }
  sleep 0.1
done
log "tollgate on $TG_ADDR, admin $TG_ADMIN (pid $TG_PID)"

# Functional check: each model answers a chat completion (no x-user-id: no bucket applies). These
# requests are in the access log and the mocks' counts; the checker is told about them.
CHECK_REQUESTS=0
for model in Qwen/Qwen3-1.7B openai/gpt-oss-20b; do
  CHECK_REQUESTS=$(( CHECK_REQUESTS + 1 ))
  ok=0
  for attempt in 1 2 3; do  # the mocks fail FAIL_RATE of requests on purpose
    resp=$(curl -s -m 5 -w '\n%{http_code}' -H 'content-type: application/json' \
      -H "x-request-id: soak-check-$CHECK_REQUESTS-$attempt" \
      -d "{\"model\":\"$model\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}]}" \
      "http://$TG_ADDR/v1/chat/completions" || true)
    code=${resp##*$'\n'}
    if [[ "$code" == 200 && "$resp" == *'"chat.completion"'* ]]; then ok=1; break; fi
    CHECK_REQUESTS=$(( CHECK_REQUESTS + 1 ))
  done
  [[ $ok == 1 ]] || { cat "$TMP/tollgate.err" >&2; die "tollgate did not answer a $model chat completion: HTTP $code: ${resp%$'\n'*}"; }
done

# ---- header ------------------------------------------------------------------------------------
echo "# tollgate soak test"
echo
echo "- command: \`SOAK_DURATION=$SOAK_DURATION bench/soak.sh\`; started $(date -u '+%Y-%m-%d %H:%M:%S') UTC"
echo "- machine: $NPROC cores, ${CPU_MODEL:-unknown CPU}, $(uname -sr), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- tollgate: $TG, worktree @ $GIT_REV, --threads $TOLLGATE_THREADS, Redis $REDIS_VERSION limiter, access log to a file"
echo "- mocks: two \`tollgate mock-llm\`, --fail-rate $FAIL_RATE --stream-error-rate $STREAM_ERROR_RATE," \
  "latency ${MOCK_LATENCY_MS} ms, ttft ${MOCK_TTFT_MS} ms, itl ${MOCK_ITL_MS} ms$( [[ "$COUNT_PROXY" != 0 ]] && echo ", each behind an nginx that counts what it serves")"
echo "- load: $SOAK_CONCURRENCY concurrent clients (node), $SOAK_USERS users ($SOAK_CAPPED_USERS capped at" \
  "$SOAK_CAPPED_LIMIT tokens/hour, +$SOAK_CAPPED_STEP per valid reload), streams $SOAK_STREAM_RATIO," \
  "gpt-oss $SOAK_GPT_RATIO, abandoned streams $SOAK_ABORT_RATIO"
echo "- reloads: every $RELOAD_EVERY (SIGHUP), every ${BAD_RELOAD_EVERY}th one invalid on purpose; warm-up ${WARMUP_S} s"
echo

# ---- the load ----------------------------------------------------------------------------------
SAMPLES="$TMP/samples.tsv"
printf 'elapsed_s\tphase\trss_kb\thwm_kb\tfds\trequests\tactive_streams\tactive_connections\tpool_idle\n' >"$SAMPLES"
M="$TMP/metrics.now"
sample() {  # $1 = elapsed seconds, $2 = phase
  local rss hwm fds req=0 as=0 ac=0 idle=0
  rss=$(proc_kb "$TG_PID" VmRSS); hwm=$(proc_kb "$TG_PID" VmHWM); fds=$(fd_count "$TG_PID")
  if fetch_metrics "$M"; then
    req=$(msum "$M" '^tollgate_requests_total')
    as=$(msum "$M" '^tollgate_active_streams$'); ac=$(msum "$M" '^tollgate_active_connections$')
    idle=$(msum "$M" '^tollgate_upstream_pool_idle_connections$')
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$rss" "$hwm" "$fds" "$req" "$as" "$ac" "$idle" >>"$SAMPLES"
}
sample 0 idle
IDLE_RSS=$(proc_kb "$TG_PID" VmRSS); IDLE_FDS=$(fd_count "$TG_PID")

STATS="$TMP/client-stats.json"; RECORDS="$TMP/client-records.jsonl"
node "$HERE/soak/load.mjs" --url "http://$TG_ADDR" --duration-s "$DUR_S" \
  --concurrency "$SOAK_CONCURRENCY" --users "$SOAK_USERS" --capped-users "$SOAK_CAPPED_USERS" \
  --stream-ratio "$SOAK_STREAM_RATIO" --gpt-ratio "$SOAK_GPT_RATIO" --abort-ratio "$SOAK_ABORT_RATIO" \
  --seed "$SOAK_SEED" --stats-file "$STATS" --records-file "$RECORDS" \
  >"$TMP/load.out" 2>"$TMP/load.err" &
CHILD=$!
LOAD_START=$(date +%s)
CPU_START=$(cpu_secs "$TG_PID")
log "load running for ${DUR_S} s (pid $CHILD); progress every ${REPORT_S} s"

client_field() {  # jq-less: one number from the client's stats file
  python3 -c 'import json,sys
try: s = json.load(open(sys.argv[1]))
except Exception: print(0); sys.exit()
v = s
for k in sys.argv[2].split("."): v = v.get(k, 0) if isinstance(v, dict) else 0
print(v)' "$STATS" "$1"
}

echo "## Progress (every ${REPORT_S} s)"
echo
echo "| elapsed | VmRSS MiB | VmHWM MiB | fds | requests | req/s | 2xx | 429 | 5xx | no answer (client left first) | streams cut / abandoned (client) | active streams | active conns | reloads ok / refused | Redis errors |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
PREV_REQ=0; PREV_T=0
report_row() {  # $1 = elapsed seconds
  local e=$1 rss hwm fds req s2 s5 none lim as ac rok rfail rerr cut ab
  rss=$(proc_kb "$TG_PID" VmRSS); hwm=$(proc_kb "$TG_PID" VmHWM); fds=$(fd_count "$TG_PID")
  fetch_metrics "$M" || { log "could not fetch /metrics at ${e}s"; return 0; }
  req=$(msum "$M" '^tollgate_requests_total')
  s2=$(msum "$M" '^tollgate_requests_total.*status_class="2xx"'); s5=$(msum "$M" '^tollgate_requests_total.*status_class="5xx"')
  none=$(msum "$M" '^tollgate_requests_total.*status_class="none"')
  lim=$(msum "$M" '^tollgate_ratelimit_decisions_total.*decision="limited"')
  as=$(msum "$M" '^tollgate_active_streams$'); ac=$(msum "$M" '^tollgate_active_connections$')
  rok=$(msum "$M" '^tollgate_config_reloads_total.*result="success"'); rfail=$(msum "$M" '^tollgate_config_reloads_total.*result="failure"')
  rerr=$(msum "$M" '^tollgate_ratelimit_store_errors_total')
  cut=$(client_field classes.stream_cut); ab=$(client_field classes.aborted)
  printf '| %d:%02d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s / %s | %s |\n' \
    $(( e / 60 )) $(( e % 60 )) "$(calc .1f "$rss / 1024")" "$(calc .1f "$hwm / 1024")" "$fds" "$req" \
    "$(calc .0f "($req - $PREV_REQ) / ($e - $PREV_T)")" "$s2" "$lim" "$s5" "$none" "$cut" "$ab" \
    "$as" "$ac" "$rok" "$rfail" "$rerr"
  log "t=${e}s rss=${rss}kB hwm=${hwm}kB fds=$fds requests=$req 429=$lim 5xx=$s5 active_streams=$as reloads=$rok/$rfail"
  PREV_REQ=$req; PREV_T=$e
}

# SIGHUP with a new config; wait (bounded) until the reload counter moves.
reload() {
  local kind=good before after
  if (( BAD_RELOAD_EVERY > 0 && (GOOD_RELOADS + BAD_RELOADS + 1) % BAD_RELOAD_EVERY == 0 )); then kind=bad; fi
  fetch_metrics "$M" || true
  before=$(msum "$M" '^tollgate_config_reloads_total')
  if [[ $kind == good ]]; then GOOD_RELOADS=$(( GOOD_RELOADS + 1 )); else BAD_RELOADS=$(( BAD_RELOADS + 1 )); fi
  write_config "$kind"
  kill -HUP "$TG_PID"
  for _ in $(seq 1 100); do
    fetch_metrics "$M" || true
    after=$(msum "$M" '^tollgate_config_reloads_total')
    (( after > before )) && break
    nap 0.1
  done
  (( after > before )) || log "WARNING: reload $(( GOOD_RELOADS + BAD_RELOADS )) ($kind) not seen in tollgate_config_reloads_total after 10 s"
  log "reload $(( GOOD_RELOADS + BAD_RELOADS )) ($kind): capped limit now $(capped_limit) (in force if good)"
}

CRASHED=0
next_sample=$SAMPLE_S; next_report=$REPORT_S; next_reload=$RELOAD_S
while :; do
  if ! alive "$CHILD"; then break; fi
  if ! alive "$TG_PID"; then
    CRASHED=1; log "tollgate (pid $TG_PID) is gone: stopping the load"
    kill -TERM "$CHILD" 2>/dev/null || true
    break
  fi
  now=$(( $(date +%s) - LOAD_START ))
  if (( now >= DUR_S + 120 )); then log "load client still running 120 s after the duration: stopping it"; kill -TERM "$CHILD" 2>/dev/null || true; fi
  if (( now >= next_sample )); then
    phase=load; (( now < WARMUP_S )) && phase=warmup
    (( now <= DUR_S )) && sample "$now" "$phase"
    next_sample=$(( next_sample + SAMPLE_S ))
  fi
  if (( now >= next_report && now <= DUR_S )); then report_row "$now"; next_report=$(( next_report + REPORT_S )); fi
  if (( now >= next_reload && now < DUR_S - 5 )); then reload; next_reload=$(( next_reload + RELOAD_S )); fi
  nap 1
done
CLIENT_RC=0
wait "$CHILD" || CLIENT_RC=$?
CHILD=""
LOAD_END=$(( $(date +%s) - LOAD_START ))
CPU_LOAD=$(calc .1f "$(cpu_secs "$TG_PID") - $CPU_START")
(( CRASHED == 0 )) && ! alive "$TG_PID" && CRASHED=1
if (( CRASHED == 0 )); then
  [[ $(tail -n 1 "$SAMPLES" | cut -f1) -lt $(( LOAD_END - 2 )) ]] && sample "$LOAD_END" load
  (( PREV_T < LOAD_END - 5 )) && report_row "$LOAD_END"
fi
echo
log "load finished after ${LOAD_END} s (client exit $CLIENT_RC): $(cat "$TMP/load.out" 2>/dev/null)"
[[ $CLIENT_RC == 0 ]] || { cat "$TMP/load.err" >&2; log "WARNING: the load client exited with $CLIENT_RC"; }

# ---- after the load: drain, idle sample, collect ---------------------------------------------------
DRAINED=0; DRAIN_WAIT=0
if (( CRASHED == 0 )); then
  # A client that left mid-stream lets tollgate read the upstream on (up to 30 s) for the usage.
  for i in $(seq 1 80); do
    if fetch_metrics "$M" && [[ $(msum "$M" '^tollgate_active_streams$') == 0 && $(msum "$M" '^tollgate_active_connections$') == 0 ]]; then
      DRAINED=1; break
    fi
    nap 0.5; DRAIN_WAIT=$(( i / 2 ))
  done
  nap 1
  sample "$(( $(date +%s) - LOAD_START ))" idle
fi
END_IDLE_RSS=$(proc_kb "$TG_PID" VmRSS); END_IDLE_FDS=$(fd_count "$TG_PID")
cp "$M" "$TMP/metrics.final" 2>/dev/null || : >"$TMP/metrics.final"
(( CRASHED == 0 )) && { fetch_metrics "$TMP/metrics.final" || log "WARNING: could not fetch the final /metrics"; }

# Redis: every rate-limit key with its value (one redis-cli call for the values).
DUMP_UNIX=$(date +%s)
"$REDIS_CLI" -p "$REDIS_PORT" --scan --pattern 'tg:rl:*' | sort >"$TMP/redis.keys" || true
: >"$TMP/redis.dump"
if [[ -s "$TMP/redis.keys" ]]; then
  { printf 'MGET'; while read -r k; do printf ' %s' "$k"; done <"$TMP/redis.keys"; echo; } >"$TMP/redis.cmd"
  "$REDIS_CLI" -p "$REDIS_PORT" <"$TMP/redis.cmd" >"$TMP/redis.values"
  paste "$TMP/redis.keys" "$TMP/redis.values" >"$TMP/redis.dump"
fi
# The gateway's own view of each user's buckets, and `tollgate limits` for two users.
: >"$TMP/ratelimits.tsv"
if (( CRASHED == 0 )); then
  python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["users"]))' "$STATS" |
    while read -r u; do
      printf '%s\t%s\n' "$u" "$(curl -s -m 5 "http://$TG_ADMIN/ratelimits?user=$u")"
    done >"$TMP/ratelimits.tsv"
fi
# The last reload may have been an invalid file: `limits` reads the config in force (same rules).
LIMITS_EXAMPLE=""
write_config good
for u in soak-user-1 soak-capped-1; do
  LIMITS_EXAMPLE+="\$ tollgate limits --redis redis://127.0.0.1:$REDIS_PORT -c soak.yaml --user $u"$'\n'
  out=$("$TG" limits --redis "redis://127.0.0.1:$REDIS_PORT" -c "$CFG" --user "$u" 2>"$TMP/limits.err") ||
    out="$out$(cat "$TMP/limits.err" 2>/dev/null)"
  # `tollgate limits` logs its Redis connection on stdout too: keep the table only.
  LIMITS_EXAMPLE+="$(grep -v '^\[[^]]*\] \[info\]' <<<"$out" || true)"$'\n'
done

# ---- the verdicts --------------------------------------------------------------------------------
CHECK_RC=0
python3 "$HERE/soak/check.py" \
  --access-log "$ACCESS_LOG" --client-stats "$STATS" --client-records "$RECORDS" \
  --redis-dump "$TMP/redis.dump" --dump-unix "$DUMP_UNIX" --ratelimits "$TMP/ratelimits.tsv" \
  --metrics "$TMP/metrics.final" --samples "$SAMPLES" --nginx-log "$NGX_LOG" \
  --front-a "${FRONT_A##*:}" --front-b "${FRONT_B##*:}" --check-requests "$CHECK_REQUESTS" \
  --warmup-s "$WARMUP_S" --rss-window-s "$RSS_WINDOW_S" --load-end-s "$LOAD_END" \
  --idle-rss-kb "$IDLE_RSS" --idle-fds "$IDLE_FDS" --end-idle-rss-kb "$END_IDLE_RSS" --end-idle-fds "$END_IDLE_FDS" \
  --good-reloads "$GOOD_RELOADS" --bad-reloads "$BAD_RELOADS" --crashed "$CRASHED" \
  --drained "$DRAINED" --drain-wait-s "$DRAIN_WAIT" --cpu-s "$CPU_LOAD" --tollgate-log "$TMP/tollgate.err" \
  --policy default/soak-limits --capped-prefix soak-capped- || CHECK_RC=$?

echo "### \`tollgate limits\` at the end"
echo
echo '```'
printf '%s' "$LIMITS_EXAMPLE"
echo '```'

if (( CRASHED )); then
  echo
  echo "**tollgate exited during the run.** Last lines of its log:"
  echo
  echo '```'
  tail -n 30 "$TMP/tollgate.err"
  echo '```'
  log "tollgate crashed; its log: $TMP/tollgate.err (set SOAK_KEEP=1 to keep the temp dir)"
  exit 1
fi
exit "$CHECK_RC"
