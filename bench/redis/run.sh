#!/usr/bin/env bash
# bench/redis/run.sh: the gateway with a Redis rate limit, measured in one run against
#   plain     one redis-server, redis://
#   tls       one redis-server serving TLS only, rediss:// (CA made by openssl for this run)
#   cluster   three masters made into a Redis Cluster by `redis-cli --cluster create`
# plus the same load with the in-process limit (local) as the baseline. Throughput and latency
# come from wrk (bounded by DURATION); with CALLGRIND=1 (the default) each target also runs once
# under callgrind with one event loop, and the instructions per request are reported, so the
# Redis store path costs (target minus local) can be compared without the machine's noise.
#
#   bench/redis/run.sh                 # 10 s per measurement, 16 and 64 connections
#   QUICK=1 bench/redis/run.sh         # 3 s per measurement, 16 connections, 500 callgrind requests
#   CALLGRIND=0 bench/redis/run.sh
#
# Needs build/tollgate, wrk, redis-server, redis-cli, openssl, python3 (free ports), and valgrind
# for the callgrind part. Listens on 127.0.0.1 only; every process it starts is stopped on exit
# and its temp directory removed. See bench/README.md. Never asserts on timing.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BENCH_TAG=bench-redis
# shellcheck source=../lib.sh
source "$ROOT/bench/lib.sh"
TG=${TOLLGATE_BIN:-$ROOT/build/tollgate}
QUICK=${QUICK:-0}
DURATION=${DURATION:-$([[ $QUICK == 1 ]] && echo 3s || echo 10s)}
CONNS=${CONNS:-$([[ $QUICK == 1 ]] && echo 16 || echo "16 64")}
USERS=${USERS:-64}
TOLLGATE_THREADS=${TOLLGATE_THREADS:-$(nproc)}
WRK_THREADS=${WRK_THREADS:-2}
CALLGRIND=${CALLGRIND:-1}
CALLGRIND_REQUESTS=${CALLGRIND_REQUESTS:-$([[ $QUICK == 1 ]] && echo 500 || echo 2000)}

for tool in wrk redis-server redis-cli openssl python3; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -x "$TG" ]] || die "$TG not built"
if [[ $CALLGRIND == 1 ]] && ! command -v valgrind >/dev/null; then
  log "valgrind not found: no instruction counts"
  CALLGRIND=0
fi

TMP=$(mktemp -d /tmp/tollgate-bench-redis.XXXXXX)
PIDS=()
cleanup() {
  trap - EXIT INT TERM
  stop_pids "${PIDS[@]}"
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the mock model server and the gateway's YAML ------------------------------------------------
"$TG" mock-llm --listen 127.0.0.1:0 --threads 1 >"$TMP/mock.out" 2>"$TMP/mock.err" &
MOCK_PID=$!; PIDS+=("$MOCK_PID")
MOCK_ADDR=$(wait_for_line "$TMP/mock.err" 'mock-llm ready listen=[^ ]+' "$MOCK_PID" mock-llm)
MOCK_ADDR=${MOCK_ADDR#*listen=}

YAML="$HERE/gateway.yaml"
"$TG" validate -c "$YAML" >"$TMP/validate.out" 2>&1 || { cat "$TMP/validate.out" >&2; die "the YAML does not validate"; }

# ---- the three Redis setups ------------------------------------------------------------------------
# redis_server NAME ARGS...: starts one, waits for it, prints nothing; logs in $TMP/NAME.log.
redis_server() {
  local name=$1 pid; shift
  mkdir -p "$TMP/$name"
  redis-server --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP/$name" --daemonize no "$@" \
    >"$TMP/$name.log" 2>&1 &
  pid=$!; PIDS+=("$pid")
  wait_for_line "$TMP/$name.log" 'Ready to accept connections' "$pid" "$name" >/dev/null
}

PLAIN_PORT=$(free_port)
redis_server plain --port "$PLAIN_PORT"

CA="$TMP/ca"; mkdir -p "$CA"
EC=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${EC[@]}" -keyout "$CA/ca.key" -out "$CA/ca.crt" -days 1 -subj /CN=bench-ca 2>/dev/null
openssl req "${EC[@]}" -keyout "$CA/server.key" -out "$CA/server.csr" -subj /CN=localhost 2>/dev/null
echo 'subjectAltName=DNS:localhost,IP:127.0.0.1' >"$CA/server.ext"
openssl x509 -req -in "$CA/server.csr" -CA "$CA/ca.crt" -CAkey "$CA/ca.key" -CAcreateserial \
  -days 1 -out "$CA/server.crt" -extfile "$CA/server.ext" 2>/dev/null
TLS_PORT=$(free_port)
redis_server tls --port 0 --tls-port "$TLS_PORT" --tls-cert-file "$CA/server.crt" \
  --tls-key-file "$CA/server.key" --tls-ca-cert-file "$CA/ca.crt" --tls-auth-clients no

CLUSTER_PORTS=()
for i in 0 1 2; do
  p=$(free_port)
  CLUSTER_PORTS+=("$p")
  redis_server "cluster$i" --port "$p" --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-port "$(free_port)"
done
timeout 60 redis-cli --cluster create "${CLUSTER_PORTS[@]/#/127.0.0.1:}" --cluster-yes \
  >"$TMP/cluster-create.log" 2>&1 || { cat "$TMP/cluster-create.log" >&2; die "redis-cli --cluster create failed"; }
for _ in $(seq 1 200); do
  redis-cli -p "${CLUSTER_PORTS[0]}" cluster info 2>/dev/null | grep -q 'cluster_state:ok' && break
  sleep 0.05
done
log "redis: plain :$PLAIN_PORT, tls :$TLS_PORT, cluster ${CLUSTER_PORTS[*]}"

declare -A FLAGS=(
  [local]=""
  [plain]="--redis redis://127.0.0.1:$PLAIN_PORT"
  [tls]="--redis rediss://localhost:$TLS_PORT --redis-ca-file $CA/ca.crt"
  [cluster]="--redis redis://127.0.0.1:${CLUSTER_PORTS[0]}"
)
# TARGETS="local plain" compares builds that have no rediss:// or cluster support.
read -r -a TARGETS <<<"${TARGETS:-local plain tls cluster}"

# start_gateway NAME THREADS [WRAPPER...]: sets GW_PID and GW_ADDR (and waits for its Redis
# connections, which come up after "ready").
start_gateway() {
  local name=$1 threads=$2 line; shift 2
  # shellcheck disable=SC2086
  env -u TOLLGATE_REDIS_URL "$@" "$TG" run -c "$YAML" --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
    --threads "$threads" --access-log off --backend-endpoint "bench-backend=$MOCK_ADDR" \
    ${FLAGS[$name]} >"$TMP/gw-$name.out" 2>"$TMP/gw-$name.err" &
  GW_PID=$!; PIDS+=("$GW_PID")
  line=$(wait_for_line "$TMP/gw-$name.err" 'tollgate ready listen=[^ ]+' "$GW_PID" "gateway $name")
  GW_ADDR=${line#*listen=}
  GW_ADMIN=$(grep -oE 'admin=[^ ]+' "$TMP/gw-$name.err" | head -1); GW_ADMIN=${GW_ADMIN#admin=}
  if [[ $name != local ]]; then
    for _ in $(seq 1 400); do
      curl -s "http://$GW_ADMIN/metrics" | grep -qE '^tollgate_redis_connected [1-9]' && break
      sleep 0.05
    done
  fi
}

# One request must be a 200 with an answer before any number counts.
smoke() {
  local code
  code=$(curl -s -o "$TMP/smoke.json" -w '%{http_code}' -H 'content-type: application/json' \
    -H 'x-user-id: smoke' -d '{"model":"m","max_tokens":4,"messages":[{"role":"user","content":"hi"}]}' \
    "http://$1/v1/chat/completions")
  [[ $code == 200 ]] || { cat "$TMP/smoke.json" >&2; die "$2: smoke request answered $code"; }
}

declare -A RES
for name in "${TARGETS[@]}"; do
  start_gateway "$name" "$TOLLGATE_THREADS"
  smoke "$GW_ADDR" "$name"
  for c in $CONNS; do
    t=$(( c < WRK_THREADS ? c : WRK_THREADS ))
    wrk -t"$t" -c"$c" -d1s -s "$ROOT/bench/load/chat_user.lua" "http://$GW_ADDR" -- "$USERS" >/dev/null 2>&1 || true
    out=$(timeout $(( $(to_secs "$DURATION") + 30 )) wrk -t"$t" -c"$c" -d"$DURATION" \
      -s "$ROOT/bench/load/chat_user.lua" "http://$GW_ADDR" -- "$USERS") || die "wrk failed on $name"
    RES[$name,$c]=$(grep '^RESULT' <<<"$out")
    log "$name c=$c ${RES[$name,$c]}"
  done
  m=$(curl -s "http://$GW_ADMIN/metrics")
  rt=$(awk '$1=="tollgate_redis_round_trips_total"{print $2}' <<<"$m")
  rs=$(awk '$1=="tollgate_redis_round_trip_seconds_total"{print $2}' <<<"$m")
  RES[$name,rtt]=$(python3 -c "import sys; n=float(sys.argv[1] or 0); print('%.0f' % (float(sys.argv[2] or 0)/n*1e6) if n else '')" "${rt:-0}" "${rs:-0}")
  RES[$name,errors]=$(awk '$1=="tollgate_ratelimit_store_errors_total"{print $2}' <<<"$m")
  stop_pids "$GW_PID"
done

# ---- callgrind: instructions per request, one event loop ------------------------------------------
declare -A IR
if [[ $CALLGRIND == 1 ]]; then
  for name in "${TARGETS[@]}"; do
    start_gateway "$name" 1 valgrind --tool=callgrind --callgrind-out-file="$TMP/cg-$name.%p" \
      --instr-atstart=no
    smoke "$GW_ADDR" "$name"
    callgrind_control -i on "$GW_PID" >/dev/null
    sent=0
    start_ns=$(date +%s%N)
    # Sequential requests over 4 connections, a fixed number (a wrk run would be bounded by time).
    python3 - "$GW_ADDR" "$CALLGRIND_REQUESTS" "$USERS" <<'EOF' || die "callgrind load failed on $name"
import http.client, json, sys
host, port = sys.argv[1].rsplit(':', 1)
n, users = int(sys.argv[2]), int(sys.argv[3])
conns = [http.client.HTTPConnection(host, int(port), timeout=60) for _ in range(4)]
body = json.dumps({"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "x" * 880}]})
for i in range(n):
    c = conns[i % 4]
    c.request("POST", "/v1/chat/completions", body, {"content-type": "application/json", "x-user-id": f"bench-user-{i % users + 1}"})
    r = c.getresponse(); r.read()
    if r.status != 200: sys.exit(f"status {r.status}")
EOF
    callgrind_control -i off "$GW_PID" >/dev/null
    callgrind_control -d "$GW_PID" >/dev/null
    ir=$(cat "$TMP"/cg-"$name".* 2>/dev/null | awk '/^(summary|totals):/ {s += $2} END {print s + 0}')
    IR[$name]=$(( ir / CALLGRIND_REQUESTS ))
    log "$name: ${IR[$name]} instructions per request under callgrind ($(( ($(date +%s%N) - start_ns) / 1000000 )) ms)"
    stop_pids "$GW_PID"
  done
fi

# ---- report -----------------------------------------------------------------------------------------
echo "# Redis rate-limit store: plain, TLS and cluster ($(date -u +%Y-%m-%dT%H:%MZ))"
echo
echo "- $(redis-server --version | cut -d' ' -f1-3), $(nproc) cores, tollgate --threads $TOLLGATE_THREADS, wrk -t$WRK_THREADS, $DURATION per row, $USERS users (x-user-id), 2 rules per user"
echo "- every request: one check round trip before (both buckets, one script call) and one charge after"
echo
echo "| store | conns | req/s | p50 ms | p99 ms | non-2xx | mean Redis RTT µs | store errors |"
echo "|---|---|---|---|---|---|---|---|"
for name in "${TARGETS[@]}"; do
  for c in $CONNS; do
    r=${RES[$name,$c]}
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$c" "$(field rps "$r")" \
      "$(field p50_ms "$r")" "$(field p99_ms "$r")" "$(field errors_status "$r")" \
      "${RES[$name,rtt]:-}" "${RES[$name,errors]:-0}"
  done
done
if [[ $CALLGRIND == 1 ]]; then
  echo
  echo "Instructions per request under callgrind (\`--threads 1\`, $CALLGRIND_REQUESTS sequential requests over 4 connections, collection on only while they ran):"
  echo
  echo "| store | instructions / request | store path (minus local) |"
  echo "|---|---|---|"
  for name in "${TARGETS[@]}"; do
    printf '| %s | %s | %s |\n' "$name" "${IR[$name]}" "$(( ${IR[$name]} - ${IR[local]} ))"
  done
fi
