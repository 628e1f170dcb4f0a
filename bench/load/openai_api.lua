-- wrk script for the Responses section of bench/load/run.sh: the same ~1 KB prompt sent as a chat
-- completion or as a Responses request, non-stream or streamed, printing one RESULT line like
-- chat.lua. Both go through the same pass-through code path shape (route on the model, relay,
-- read the usage), so the two rows compare what the Responses relay costs next to chat's.
--
--   wrk ... -s bench/load/openai_api.lua URL -- chat|responses 0|1
local sentence = "The gateway reads the model name from the body, picks a backend and relays the answer. "
local prompt = string.rep(sentence, 10)  -- 880 bytes, as chat.lua
local body

function init(args)
  local api, stream = args[1] or "chat", (args[2] or "0") == "1"
  local s = stream and "true" or "false"
  if api == "responses" then
    wrk.path = "/v1/responses"
    body = '{"model":"Qwen/Qwen3-1.7B","max_output_tokens":16,"stream":' .. s .. ',' ..
           '"instructions":"You are a terse assistant.","input":"' .. prompt .. '"}'
  else
    wrk.path = "/v1/chat/completions"
    body = '{"model":"Qwen/Qwen3-1.7B","max_tokens":16,"stream":' .. s .. ',' ..
           '"messages":[{"role":"system","content":"You are a terse assistant."},' ..
           '{"role":"user","content":"' .. prompt .. '"}]}'
  end
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

-- done() runs in wrk's main Lua state, where init() never ran: it prints counts only.
function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
    "errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end
