-- wrk script for bench/load/translate.sh: the same conversation (chat.lua's system message and
-- ~880-byte user message, max_tokens 16) sent as a chat completion (passed through) or as an
-- Anthropic Messages request (translated to chat completions and back), non-stream or streamed.
--
--   wrk ... -s bench/load/messages.lua URL -- chat|messages 0|1
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "bedrock.lua")

local sentence = "The gateway reads the model name from the body, picks a backend and relays the answer. "
local prompt = string.rep(sentence, 10)

function init(args)
  local api, stream = args[1] or "messages", (args[2] or "0") == "1"
  local s = stream and "true" or "false"
  if api == "chat" then
    wrk.path = "/v1/chat/completions"
    wrk.body = '{"model":"Qwen/Qwen3-1.7B","max_tokens":16,"stream":' .. s ..
               (stream and ',"stream_options":{"include_usage":true}' or '') ..
               ',"messages":[{"role":"system","content":"You are a terse assistant."},' ..
               '{"role":"user","content":"' .. prompt .. '"}]}'
  else
    wrk.path = "/v1/messages"
    wrk.headers["anthropic-version"] = "2023-06-01"
    wrk.body = '{"model":"Qwen/Qwen3-1.7B","max_tokens":16,"stream":' .. s ..
               ',"system":"You are a terse assistant.",' ..
               '"messages":[{"role":"user","content":"' .. prompt .. '"}]}'
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

-- done(): bedrock.lua's RESULT line (its init is replaced by this file's, defined after it).
