#!/usr/bin/env python3
"""End-of-run verdicts of bench/soak.sh: memory, descriptors, and "nothing lost".

Reads what the run left behind (the gateway's access log and final /metrics, the Redis rate-limit
keys, the gateway's /ratelimits view of every user, the load client's stats and records, the log
of the nginx that counts what the mocks served, the RSS/fd samples) and prints Markdown sections on
stdout. Exit status 1 when an invariant broke (listed in the "Invariants" table), else 0.

The charging rules it recomputes are the gateway's (docs/rate-limiting.md, src/gateway/gateway.cc,
src/ratelimit/limiter.cc), per request of the access log:
  - only a request whose check allowed it (`rate_limit: allowed`) is charged at all;
  - the request rule (cost.request.number 1) takes 1 at check time;
  - the token rules take the response's total_tokens when the usage was read (`usage_known`), the
    estimate ((body bytes + 3) / 4 + max_tokens) when a 2xx had no readable usage (a stream cut by
    the upstream, for instance), and nothing for an error status;
  - the bucket is the window of the check, i.e. of the request's start (`time`).
"""

import argparse
import collections
import json
import re
import statistics
import sys


def parse_args():
    p = argparse.ArgumentParser()
    a = p.add_argument
    a("--access-log", required=True)
    a("--client-stats", required=True)
    a("--client-records", required=True)
    a("--redis-dump", required=True)
    a("--dump-unix", type=int, required=True)
    a("--ratelimits", required=True)
    a("--metrics", required=True)
    a("--samples", required=True)
    a("--nginx-log", default="")
    a("--front-a", default="")
    a("--front-b", default="")
    a("--check-requests", type=int, default=0)
    a("--warmup-s", type=int, required=True)
    a("--rss-window-s", type=int, required=True)
    a("--load-end-s", type=int, required=True)
    a("--idle-rss-kb", type=int, default=0)
    a("--idle-fds", type=int, default=0)
    a("--end-idle-rss-kb", type=int, default=0)
    a("--end-idle-fds", type=int, default=0)
    a("--good-reloads", type=int, default=0)
    a("--bad-reloads", type=int, default=0)
    a("--crashed", type=int, default=0)
    a("--drained", type=int, default=0)
    a("--drain-wait-s", type=int, default=0)
    a("--tollgate-log", default="")
    a("--cpu-s", type=float, default=0.0)
    a("--policy", required=True)
    a("--capped-prefix", required=True)
    return p.parse_args()


ARGS = parse_args()
INVARIANTS = []  # (what, expected, observed, ok)


CRASH_CHECK = "tollgate still running at the end"


def invariant(what, expected, observed, ok=None):
    if ok is None:
        ok = expected == observed
    if ARGS.crashed and what != CRASH_CHECK:
        # The gateway died: its last metrics, the requests in flight and the drain are whatever
        # the crash left; the comparisons are shown, not judged.
        ok = None
    INVARIANTS.append((what, expected, observed, ok))
    return ok


def fmt_counts(d):
    return ", ".join(f"{k or '(none)'} {v}" for k, v in sorted(d.items())) or "none"


def mib(kb):
    return kb / 1024.0


# ---- inputs ------------------------------------------------------------------------------------
def read_metrics(path):
    series = {}
    try:
        with open(path) as f:
            for line in f:
                if not line.strip() or line.startswith("#"):
                    continue
                name, _, value = line.rstrip("\n").rpartition(" ")
                try:
                    series[name] = float(value)
                except ValueError:
                    pass
    except FileNotFoundError:
        pass
    return series


def msum(series, pattern):
    r = re.compile(pattern)
    return sum(v for k, v in series.items() if r.search(k))


def label(series_name, key):
    m = re.search(key + r'="([^"]*)"', series_name)
    return m.group(1) if m else ""


METRICS = read_metrics(ARGS.metrics)

with open(ARGS.client_stats) as f:
    CLIENT = json.load(f)

RECORDS = {}
try:
    with open(ARGS.client_records) as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
                RECORDS[r["id"]] = r
except FileNotFoundError:
    pass

SAMPLES = []
with open(ARGS.samples) as f:
    header = f.readline().rstrip("\n").split("\t")
    for line in f:
        row = dict(zip(header, line.rstrip("\n").split("\t")))
        for k in row:
            if k != "phase":
                row[k] = int(row[k] or 0)
        SAMPLES.append(row)

UNIT_SECONDS = {"Day": 86400, "Hour": 3600}
RULE_UNITS = {0: "Day", 1: "Day", 2: "Hour"}  # the soak config's rules (bench/soak.sh)


def window_start(unix, unit):
    return unix - unix % UNIT_SECONDS[unit]


def parse_time(ts):
    # "2026-11-25T22:33:22.187Z" -> unix seconds (UTC)
    import calendar
    import time as _time
    base = _time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")
    return calendar.timegm(base)


# ---- the access log ------------------------------------------------------------------------------
capped_re = re.compile(re.escape(ARGS.capped_prefix) + ".*")
expected = collections.defaultdict(int)      # (rule, user or "", window) -> amount
# The access log's `time` is the request's start; the check that picks the window comes a little
# later. What was charged in the last BOUNDARY_SLACK_S seconds of a window may sit in the next one.
BOUNDARY_SLACK_S = 2
may_leave = collections.defaultdict(int)     # bucket -> charges that may have gone to the next window
may_enter = collections.defaultdict(int)     # bucket -> charges that may have come from the previous one


def charge_bucket(rule, user, t, amount):
    unit = UNIT_SECONDS[RULE_UNITS[rule]]
    w = window_start(t, RULE_UNITS[rule])
    expected[(rule, user, w)] += amount
    if t >= w + unit - BOUNDARY_SLACK_S:
        may_leave[(rule, user, w)] += amount
        may_enter[(rule, user, w + unit)] += amount
log_lines = 0
bad_lines = 0
status_counts = collections.Counter()
error_types = collections.Counter()
rate_verdicts = collections.Counter()
attempts_by_id = {}
attempts_by_backend = collections.Counter()
log_tokens = collections.Counter()           # input / output / total over usage_known lines
seen_by_client = collections.Counter()        # user -> tokens the client should have seen
estimated = 0
estimated_tokens = 0
unexplained_estimates = []
client_gone = 0
stream_no_usage_2xx = 0
users_in_log = set()
first_time = last_time = None
lines_by_user = collections.Counter()

with open(ARGS.access_log, "rb") as f:
    for raw in f:
        log_lines += 1
        try:
            o = json.loads(raw)
        except ValueError:
            bad_lines += 1
            continue
        status = int(o.get("status", 0))
        status_counts[status] += 1
        if o.get("error_type"):
            error_types[o["error_type"]] += 1
        rl = o.get("rate_limit", "")
        rate_verdicts[rl or "(no rule)"] += 1
        rid = o.get("request_id", "")
        attempts_by_id[rid] = attempts_by_id.get(rid, 0) + int(o.get("attempts", 0))
        if int(o.get("attempts", 0)):
            attempts_by_backend[o.get("backend", "")] += int(o.get("attempts", 0))
        if o.get("client_gone"):
            client_gone += 1
        user = o.get("user", "")
        if user:
            users_in_log.add(user)
            lines_by_user[user] += 1
        t = parse_time(o["time"])
        first_time = t if first_time is None else min(first_time, t)
        last_time = t if last_time is None else max(last_time, t)
        ok2xx = 200 <= status < 300
        known = bool(o.get("usage_known"))
        if known:
            log_tokens["input"] += int(o.get("input_tokens", 0))
            log_tokens["output"] += int(o.get("output_tokens", 0))
            total = int(o.get("total_tokens", 0)) or int(o.get("input_tokens", 0)) + int(o.get("output_tokens", 0))
            log_tokens["total"] += total
            if ok2xx and user and rid not in RECORDS:
                seen_by_client[user] += total
        if not user or rl != "allowed":
            continue
        # Charged: the request rule at check time, the token rules at completion.
        charge = 0
        if ok2xx:
            if known:
                charge = int(o.get("total_tokens", 0)) or int(o.get("input_tokens", 0)) + int(o.get("output_tokens", 0))
            else:
                rec = RECORDS.get(rid)
                if rec is None:
                    unexplained_estimates.append(rid)
                else:
                    charge = (int(rec["bytes"]) + 3) // 4 + int(rec["max_tokens"])
                    estimated += 1
                    estimated_tokens += charge
        charge_bucket(0, user, t, charge)
        charge_bucket(1, user, t, 1)
        if capped_re.fullmatch(user):
            charge_bucket(2, "", t, charge)

# ---- Redis and the gateway's view ----------------------------------------------------------------
observed = {}
prefix = "tg:rl:" + ARGS.policy + ":"
bad_keys = []
with open(ARGS.redis_dump) as f:
    for line in f:
        key, _, value = line.rstrip("\n").partition("\t")
        if not key.startswith(prefix):
            bad_keys.append(key)
            continue
        rule_s, _, rest = key[len(prefix):].partition(":")
        middle, _, win = rest.rpartition(":")
        user = ""
        if middle:
            n, _, user = middle.partition(":")
            if len(user) != int(n):
                bad_keys.append(key)
                continue
        try:
            observed[(int(rule_s), user, int(win))] = int(value or 0)
        except ValueError:
            bad_keys.append(key)

admin_mismatch = []
admin_buckets = 0
with open(ARGS.ratelimits) as f:
    for line in f:
        user, _, body = line.rstrip("\n").partition("\t")
        try:
            buckets = json.loads(body).get("buckets", [])
        except ValueError:
            admin_mismatch.append(f"{user}: unreadable /ratelimits answer")
            continue
        for b in buckets:
            admin_buckets += 1
            key = b.get("key", "")
            rule_s, _, rest = key[len(prefix):].partition(":")
            middle, _, win = rest.rpartition(":")
            u = middle.partition(":")[2] if middle else ""
            red = observed.get((int(rule_s), u, int(win)), 0)
            if int(b.get("spent", -1)) != red:
                admin_mismatch.append(f"{user} rule {rule_s}: /ratelimits spent {b.get('spent')} vs Redis {red}")


def compare(rule):
    """Per (user, window) of one rule: (rows, mismatches, expired, moved)."""
    keys = {k for k in expected if k[0] == rule} | {k for k in observed if k[0] == rule}
    rows, mismatches, expired = [], [], []
    for k in sorted(keys):
        exp, obs = expected.get(k, 0), observed.get(k)
        end = k[2] + UNIT_SECONDS[RULE_UNITS[rule]]
        if obs is None and exp and end + 1 <= ARGS.dump_unix:
            expired.append(k)  # the window ended and its key expired: nothing left to compare
            continue
        obs = obs or 0
        rows.append((k, exp, obs))
        if exp != obs:
            mismatches.append((k, exp, obs))
    # A mismatch within what may have crossed a window boundary (see BOUNDARY_SLACK_S) is not a
    # loss when the user's windows still add up (or the neighbour window expired).
    moved = bool(mismatches) and all(
        exp - may_leave.get(k, 0) <= obs <= exp + may_enter.get(k, 0) for k, exp, obs in mismatches)
    if moved and not any(e[1] == k[1] for k, _, _ in mismatches for e in expired):
        for u in {k[1] for k, _, _ in mismatches}:
            if sum(e for k, e, _ in rows if k[1] == u) != sum(o for k, _, o in rows if k[1] == u):
                moved = False
    return rows, mismatches, expired, moved


# ---- the mocks' door (nginx) ---------------------------------------------------------------------
nginx = None
if ARGS.nginx_log:
    nginx = {"lines": 0, "by_port": collections.Counter(), "status": collections.defaultdict(collections.Counter),
             "reached": collections.Counter(), "ids": collections.Counter()}
    try:
        with open(ARGS.nginx_log) as f:
            for line in f:
                parts = line.split()
                if len(parts) < 4 or parts[0] == "soak-probe":
                    continue
                rid, port, st, up = parts[0], parts[1], parts[2], parts[3]
                nginx["lines"] += 1
                nginx["by_port"][port] += 1
                nginx["status"][port][st] += 1
                if up != "-":
                    nginx["reached"][port] += 1
                nginx["ids"][rid] += 1
    except FileNotFoundError:
        nginx = None

# ---- report: memory and descriptors ----------------------------------------------------------------
load = [s for s in SAMPLES if s["phase"] in ("load", "warmup")]
w1 = [s for s in load if ARGS.warmup_s <= s["elapsed_s"] < ARGS.warmup_s + ARGS.rss_window_s]
w2 = [s for s in load if ARGS.load_end_s - ARGS.rss_window_s < s["elapsed_s"] <= ARGS.load_end_s]
post = [s for s in load if s["elapsed_s"] >= ARGS.warmup_s]
peak_hwm = max((s["hwm_kb"] for s in SAMPLES), default=0)
req_during_load = max((s["requests"] for s in load), default=0)


def mean(rows, k):
    return statistics.fmean(r[k] for r in rows) if rows else 0.0


def span(rows):
    return f"{rows[0]['elapsed_s']}–{rows[-1]['elapsed_s']} s" if rows else "no samples"


print("## Memory and file descriptors")
print()
print("| when | samples | VmRSS MiB | VmHWM MiB | fds |")
print("|---|---:|---:|---:|---:|")
print(f"| idle, before the load | 1 | {mib(ARGS.idle_rss_kb):.1f} | | {ARGS.idle_fds} |")
print(f"| first window after the {ARGS.warmup_s} s warm-up ({span(w1)}), mean | {len(w1)} | {mib(mean(w1, 'rss_kb')):.1f} | {mib(mean(w1, 'hwm_kb')):.1f} | {mean(w1, 'fds'):.0f} |")
print(f"| last window of the load ({span(w2)}), mean | {len(w2)} | {mib(mean(w2, 'rss_kb')):.1f} | {mib(mean(w2, 'hwm_kb')):.1f} | {mean(w2, 'fds'):.0f} |")
print(f"| idle, after the load | 1 | {mib(ARGS.end_idle_rss_kb):.1f} | {mib(peak_hwm):.1f} | {ARGS.end_idle_fds} |")
print()

rss1, rss2 = mean(w1, "rss_kb"), mean(w2, "rss_kb")
delta = rss2 - rss1
# Threshold: 2 MiB or 10 % of the post-warm-up RSS, whichever is larger. Below that, glibc's
# per-thread arenas and the pools settling move RSS by a few hundred KiB either way; above it,
# something keeps memory per request or per reload.
threshold = max(2048.0, 0.10 * rss1)
huge = max(65536.0, rss1)  # more than doubled (and over 64 MiB): an invariant, not a remark
reqs_between = (w2[-1]["requests"] - w1[0]["requests"]) if w1 and w2 else 0
slope = 0.0
if len(post) >= 3:
    xs = [s["elapsed_s"] / 60.0 for s in post]
    ys = [s["rss_kb"] for s in post]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0
verdict = "**flat**" if delta <= threshold else "**grew**"
if w1 and w2:
    per_req = f"; at {reqs_between} requests between the windows the threshold is {threshold * 1024 / reqs_between:.1f} bytes per request" if reqs_between else ""
    print(f"RSS, last window vs first window after warm-up: {delta / 1024:+.2f} MiB ({100 * delta / rss1:+.1f} %);"
          f" least-squares slope over the {len(post)} samples after warm-up: {slope:+.0f} KiB/min."
          f" Verdict: {verdict} (threshold: +{threshold / 1024:.1f} MiB, the larger of 2 MiB and 10 %{per_req}).")
    invariant("RSS did not more than double after warm-up (a gross leak)", f"≤ +{huge / 1024:.0f} MiB",
              f"{delta / 1024:+.2f} MiB", delta <= huge)
else:
    print("RSS verdict: not enough samples (the run was too short, or tollgate exited).")
if ARGS.cpu_s and req_during_load:
    print()
    print(f"tollgate used {ARGS.cpu_s:.1f} s of CPU (user + system) during the load:"
          f" {1e6 * ARGS.cpu_s / req_during_load:.0f} µs per request over {req_during_load} requests.")
pool_idle = int(msum(METRICS, r"^tollgate_upstream_pool_idle_connections$"))
fd_growth = ARGS.end_idle_fds - ARGS.idle_fds
print()
print(f"File descriptors, idle before vs idle after: {ARGS.idle_fds} → {ARGS.end_idle_fds} ({fd_growth:+d});"
      f" the upstream pool keeps {pool_idle} idle keep-alive connection(s) open by design,"
      f" so {fd_growth - pool_idle:+d} unexplained. Verdict: **{'flat' if fd_growth - pool_idle <= 2 else 'grew'}**"
      " (threshold: 2 descriptors beyond the idle pool).")
print()

# ---- report: traffic -------------------------------------------------------------------------------
cls = CLIENT.get("classes", {})
print("## Traffic")
print()
dur = max(1.0, float(CLIENT.get("elapsed_s", 1)))
print(f"The client sent **{CLIENT.get('sent', 0)} requests** in {dur:.0f} s ({CLIENT.get('sent', 0) / dur:.0f}/s),"
      f" {CLIENT.get('done', 0)} finished; the access log has {log_lines} lines ({ARGS.check_requests} of them the start-up check).")
print()
print("| client outcome | requests |")
print("|---|---:|")
order = ["ok", "ok_stream", "limited", "http_5xx", "stream_cut", "aborted", "transport_error", "http_other",
         "bad_body", "stream_no_usage", "stream_truncated"]
names = {"ok": "200, non-stream, usage read", "ok_stream": "200, stream complete ([DONE] and usage)",
         "limited": "429 (rate limited)", "http_5xx": "5xx (both backends failed)",
         "stream_cut": "stream cut by the upstream (error event, no [DONE])",
         "aborted": "stream abandoned by the client after the first chunk",
         "transport_error": "transport error / timeout", "http_other": "other status",
         "bad_body": "**200 without usage**", "stream_no_usage": "**stream without usage chunk**",
         "stream_truncated": "**stream ended without [DONE] or error**"}
for k in order + sorted(set(cls) - set(order)):
    if cls.get(k) or k in ("ok", "ok_stream", "limited", "http_5xx", "stream_cut", "aborted"):
        print(f"| {names.get(k, k)} | {cls.get(k, 0)} |")
print()
statuses = ", ".join(f"{k}: {v}" for k, v in sorted(status_counts.items()))
etypes = ", ".join(f"{k}: {v}" for k, v in error_types.most_common()) or "none"
print(f"Gateway (access log): statuses {statuses}; error types {etypes}; rate-limit verdicts "
      + ", ".join(f"{k}: {v}" for k, v in rate_verdicts.most_common())
      + f"; client gone before the end: {client_gone}.")
retries = int(msum(METRICS, r"^tollgate_upstream_retries_total"))
fallbacks = int(msum(METRICS, r"^tollgate_upstream_fallbacks_total"))
print(f"Upstream: {int(msum(METRICS, r'^tollgate_upstream_attempts_total'))} attempts, {retries} retries,"
      f" {fallbacks} answered by the priority-1 fallback, {int(msum(METRICS, r'^tollgate_upstream_connects_total'))} connects"
      f" ({int(msum(METRICS, r'^tollgate_upstream_connect_errors_total'))} failed),"
      f" {int(msum(METRICS, r'^tollgate_upstream_connection_reuses_total'))} reuses."
      f" Redis: {int(msum(METRICS, r'^tollgate_redis_round_trips_total'))} round trips,"
      f" {int(msum(METRICS, r'^tollgate_redis_timeouts_total'))} timeouts,"
      f" {int(msum(METRICS, r'^tollgate_ratelimit_store_errors_total'))} store errors.")
print()
if nginx:
    print("The mocks, as the counting nginx in front of each saw them:")
    print()
    print("| mock | requests | reached the mock | 200 | 503 (injected) | other |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, port in (("mock-a", ARGS.front_a), ("mock-b", ARGS.front_b)):
        st = nginx["status"][port]
        other = sum(v for k, v in st.items() if k not in ("200", "503"))
        print(f"| {name} | {nginx['by_port'][port]} | {nginx['reached'][port]} | {st.get('200', 0)} | {st.get('503', 0)} | {other} |")
    print()

# ---- report: accounting ----------------------------------------------------------------------------
print("## Accounting: charged vs counted")
print()
print(f"Charged (recomputed from the access log): {estimated} requests had a 2xx without a usage"
      f" (streams cut by the upstream) and were charged the estimate, {estimated_tokens} tokens in all.")
print()
rule_names = {0: "tokens per user per Day (ledger)", 1: "requests per user per Day (ledger)",
              2: "tokens per Hour shared by the capped users"}
print("| rule | buckets compared | charged (access log) | counted (Redis) | mismatched buckets | expired windows |")
print("|---|---:|---:|---:|---:|---:|")
results = {}
for rule in (0, 1, 2):
    rows, mism, expired, moved = compare(rule)
    results[rule] = (rows, mism, expired, moved)
    print(f"| {rule}: {rule_names[rule]} | {len(rows)} | {sum(r[1] for r in rows)} | {sum(r[2] for r in rows)} |"
          f" {len(mism)}{' (moved across a window boundary)' if moved else ''} | {len(expired)} |")
print()
# A few users in full: the capped ones and three others.
day_rows0 = {k[1]: (e, o) for k, e, o in results[0][0]}
day_rows1 = {k[1]: (e, o) for k, e, o in results[1][0]}
users = list(CLIENT.get("users", {}))
shown = [u for u in users if not capped_re.fullmatch(u)][:3] + [u for u in users if capped_re.fullmatch(u)]
print("| user | requests sent | allowed (log) | requests counted (Redis) | tokens charged (log) | tokens counted (Redis) | tokens in the usages the client received |")
print("|---|---:|---:|---:|---:|---:|---:|")
for u in shown:
    e1, o1 = day_rows1.get(u, (0, 0))
    e0, o0 = day_rows0.get(u, (0, 0))
    print(f"| {u} | {CLIENT['users'][u]['sent']} | {e1} | {o1} | {e0} | {o0} | {CLIENT['users'][u]['tokens_seen']} |")
print()

# ---- invariants ------------------------------------------------------------------------------------
invariant(CRASH_CHECK, "yes", "no" if ARGS.crashed else "yes")
invariant("access-log lines that are not JSON", 0, bad_lines)
req_total = int(msum(METRICS, r"^tollgate_requests_total"))
invariant("access-log lines = tollgate_requests_total", log_lines, req_total)
sent = int(CLIENT.get("sent", 0))
unreached = int(cls.get("transport_error", 0))
invariant("access-log lines = requests sent (client + start-up check)",
          f"{sent + ARGS.check_requests}" + (f" (− up to {unreached} transport errors)" if unreached else ""),
          log_lines, sent + ARGS.check_requests - unreached <= log_lines <= sent + ARGS.check_requests)
invariant("client requests all finished", sent, int(CLIENT.get("done", 0)))
anomalies = sum(int(cls.get(k, 0)) for k in ("bad_body", "stream_no_usage", "stream_truncated", "http_other"))
invariant("malformed answers (200 without usage, stream without usage or end, unexpected status)", 0, anomalies)
invariant("2xx without usage that the client did not see cut or abandon", 0, len(unexplained_estimates))
for rule in (0, 1, 2):
    rows, mism, expired, moved = results[rule]
    desc = f"rule {rule} ({rule_names[rule]}): charged = counted in every bucket"
    if mism and not moved:
        sample = "; ".join(f"{k[1] or 'shared'}@{k[2]}: {e} vs {o}" for k, e, o in mism[:3])
        invariant(desc, "0 mismatches", f"{len(mism)} ({sample})", False)
    else:
        invariant(desc, "0 mismatches", f"0{' (after moving across a window boundary)' if moved else ''}", True)
invariant("Redis keys that do not parse", 0, len(bad_keys))
invariant("/ratelimits (the gateway's view) = Redis", f"{admin_buckets} buckets agree",
          f"{admin_buckets - len(admin_mismatch)} agree" + (f" ({admin_mismatch[0]})" if admin_mismatch else ""),
          not admin_mismatch and admin_buckets > 0)
client_mism = [u for u in users if CLIENT["users"][u]["tokens_seen"] != seen_by_client.get(u, 0)]
invariant("tokens the client saw = tokens the access log has for those requests, per user",
          f"{len(users)} users", f"{len(users) - len(client_mism)} agree"
          + (f" ({client_mism[0]}: {CLIENT['users'][client_mism[0]]['tokens_seen']} vs {seen_by_client.get(client_mism[0], 0)})" if client_mism else ""),
          not client_mism)
m_in = int(msum(METRICS, r'^gen_ai_client_token_usage_sum\{.*gen_ai_token_type="input"'))
m_out = int(msum(METRICS, r'^gen_ai_client_token_usage_sum\{.*gen_ai_token_type="output"'))
invariant("gen_ai_client_token_usage_sum input / output = access log", f"{log_tokens['input']} / {log_tokens['output']}",
          f"{m_in} / {m_out}", (m_in, m_out) == (log_tokens["input"], log_tokens["output"]))
decisions = int(msum(METRICS, r"^tollgate_ratelimit_decisions_total"))
with_rule = sum(v for k, v in rate_verdicts.items() if k != "(no rule)")
invariant("tollgate_ratelimit_decisions_total = access-log lines with a rate-limit verdict", with_rule, decisions)
# tollgate_upstream_attempts_total is labelled with the backend that answered (docs/operations.md):
# a 503 from mock-a followed by mock-b's answer counts 2 under model-b. So per label it equals the
# access log's attempts summed by its `backend` field, and only its sum compares with the mocks.
attempts_metric = {label(k, "backend"): int(v) for k, v in METRICS.items() if k.startswith("tollgate_upstream_attempts_total")}
invariant("tollgate_upstream_attempts_total per backend label = access-log attempts by answering backend",
          fmt_counts(attempts_by_backend), fmt_counts(attempts_metric))
if nginx:
    invariant("requests the mocks served (nginx, both) = tollgate_upstream_attempts_total (sum)",
              sum(attempts_metric.values()), nginx["lines"])
    ids = nginx["ids"]
    per_req_bad = [rid for rid, n in attempts_by_id.items() if ids.get(rid, 0) != n]
    per_req_bad += [rid for rid in ids if rid not in attempts_by_id]
    invariant("per request: attempts in the access log = requests the mocks saw with its x-request-id",
              f"{len(attempts_by_id)} requests", f"{len(attempts_by_id) - len(per_req_bad)} agree"
              + (f" (e.g. {per_req_bad[0]}: {attempts_by_id.get(per_req_bad[0], 0)} vs {ids.get(per_req_bad[0], 0)})" if per_req_bad else ""),
              not per_req_bad)
rok = int(msum(METRICS, r'^tollgate_config_reloads_total\{.*result="success"'))
rfail = int(msum(METRICS, r'^tollgate_config_reloads_total\{.*result="failure"'))
invariant("reloads: success / failure = valid / invalid configs sent (SIGHUP)",
          f"{ARGS.good_reloads} / {ARGS.bad_reloads}", f"{rok} / {rfail}",
          (rok, rfail) == (ARGS.good_reloads, ARGS.bad_reloads))
invariant("no stream or client connection left open after the load",
          "0 / 0", f"0 / 0 (after {ARGS.drain_wait_s} s)" if ARGS.drained else "not drained after 40 s",
          bool(ARGS.drained))

print("## Invariants")
print()
print("| check | expected | observed | |")
print("|---|---|---|---|")
for what, exp, obs, ok in INVARIANTS:
    print(f"| {what} | {exp} | {obs} | {'n/a' if ok is None else 'ok' if ok else '**BROKEN**'} |")
print()
if ARGS.crashed:
    print("tollgate exited during the run: the other rows compare what the crash left behind"
          " (the last /metrics scraped before it, requests cut in flight) and are not judged.")
    print()
broken = [w for w, _, _, ok in INVARIANTS if ok is False]

# Lines the gateway logged above info level, grouped (numbers and ids stripped).
if ARGS.tollgate_log:
    groups = collections.Counter()
    try:
        with open(ARGS.tollgate_log, errors="replace") as f:
            for line in f:
                parts = line.split(" ", 2)
                if len(parts) == 3 and parts[1] in ("warning", "warn", "error", "critical"):
                    msg = re.sub(r"[0-9a-f]{16,}|\d+(\.\d+)?", "N", parts[2].strip())
                    groups[(parts[1], msg[:160])] += 1
    except FileNotFoundError:
        pass
    if groups:
        print("Gateway log lines above info level (grouped, numbers replaced by N):")
        print()
        print("| level | count | message |")
        print("|---|---:|---|")
        for (lvl, msg), n in groups.most_common(8):
            print(f"| {lvl} | {n} | `{msg}` |")
        print()
    else:
        print("The gateway logged nothing above info level.")
        print()

if broken:
    print(f"**{len(broken)} invariant(s) broken:** " + "; ".join(broken))
    print()
    for w in broken:
        print(f"[soak] BROKEN: {w}", file=sys.stderr)
    sys.exit(1)
print("Every invariant held.")
print()
