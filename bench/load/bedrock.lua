-- wrk script for the Bedrock section of bench/load/run.sh: the same Claude request sent either
-- to the fake Bedrock directly (InvokeModel body and path) or through tollgate (Anthropic
-- Messages API), non-stream or streamed, printing one RESULT line like chat.lua.
--
--   wrk ... -s bench/load/bedrock.lua URL -- direct|gateway 0|1
--
-- Through tollgate the request is translated, signed with SigV4 and the answer (or the AWS event
-- stream) translated back: the difference to "direct" is that cost.
local sentence = "The gateway reads the model name from the body, picks a backend and relays the answer. "
local prompt = string.rep(sentence, 10)
local model = "anthropic.claude-3-haiku-20240307-v1:0"
local body

function init(args)
  local mode, stream = args[1] or "gateway", (args[2] or "0") == "1"
  local messages = '"max_tokens":16,"system":"You are a terse assistant.",' ..
                   '"messages":[{"role":"user","content":"' .. prompt .. '"}]'
  if mode == "direct" then
    wrk.path = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/" ..
               (stream and "invoke-with-response-stream" or "invoke")
    body = '{"anthropic_version":"bedrock-2023-05-31",' .. messages .. '}'
  else
    wrk.path = "/anthropic/v1/messages"
    wrk.headers["anthropic-version"] = "2023-06-01"
    body = '{"model":"' .. model .. '","stream":' .. (stream and "true" or "false") .. ',' ..
           messages .. '}'
  end
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

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
