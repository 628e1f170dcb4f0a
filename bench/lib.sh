# Shell helpers shared by bench/load/run.sh and bench/soak.sh (sourced; set BENCH_TAG first).

log() { printf '[%s] %s\n' "${BENCH_TAG:-bench}" "$*" >&2; }
die() { printf '[%s] error: %s\n' "${BENCH_TAG:-bench}" "$*" >&2; exit 1; }

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

# key=value field from a RESULT/STREAM line.
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<" $2"; }

# SIGTERM to every pid given, then up to 5 s each to exit before SIGKILL; reaps them.
stop_pids() {
  local pid
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
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
