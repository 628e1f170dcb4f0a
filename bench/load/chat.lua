-- wrk script for bench/load/run.sh: POST a ~1 KB non-stream chat completion and print the
-- result as one machine-readable line from done().
--
--   wrk -t2 -c16 -d10s -s bench/load/chat.lua http://127.0.0.1:PORT
--
-- Output (last line of wrk's stdout):
--   RESULT requests=N duration_s=S rps=R p50_ms=A p90_ms=B p99_ms=C max_ms=D \
--          errors_connect=.. errors_read=.. errors_write=.. errors_status=.. errors_timeout=..
-- errors_status counts non-2xx/3xx answers (a routing mistake would show up there, not as speed).

-- ~1 KB of prompt text: a fixed sentence repeated, so every request has the same body (the mock's
-- answer depends only on the last user message, so every answer is the same too).
local sentence = "The gateway reads the model name from the body, picks a backend and relays the answer. "
local prompt = string.rep(sentence, 10)  -- 10 * 88 bytes = 880 bytes

-- BENCH_API=responses sends the same prompt as a Responses request (instructions + input) to
-- /v1/responses, BENCH_STREAM=1 streams (the Responses section of run.sh). Read from the
-- environment, not wrk's script arguments, because done() runs in a Lua state where init() with
-- the arguments never ran, and the body size it reports must be the one sent.
local responses = os.getenv("BENCH_API") == "responses"
local stream = os.getenv("BENCH_STREAM") == "1" and "true" or "false"
local body
if responses then
  body = '{"model":"Qwen/Qwen3-1.7B","max_output_tokens":16,"stream":' .. stream .. ',' ..
         '"instructions":"You are a terse assistant.","input":"' .. prompt .. '"}'
else
  body = '{"model":"Qwen/Qwen3-1.7B","max_tokens":16,"stream":' .. stream .. ',' ..
         '"messages":[{"role":"system","content":"You are a terse assistant."},' ..
         '{"role":"user","content":"' .. prompt .. '"}]}'
end

wrk.method = "POST"
wrk.path = responses and "/v1/responses" or "/v1/chat/completions"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
    "errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d body_bytes=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout, #body))
end
