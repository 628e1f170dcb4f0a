-- wrk script for the rate-limit section of bench/load/run.sh: exactly the requests of chat.lua
-- (same body, same headers, same RESULT line) plus an `x-user-id` header, spread round-robin over
-- N users so that a per-user (Distinct) rate-limit rule sees N buckets instead of one hot key.
--
--   wrk -t2 -c16 -d10s -s bench/load/chat_user.lua http://127.0.0.1:PORT -- 64
--
-- The argument after `--` is the number of users (default 64); the header values are
-- bench-user-1 .. bench-user-N. Each wrk thread has its own Lua state and its own counter, started
-- at a different user, so every user gets the same share of the requests.
--
-- Unlike chat.lua (whose single request wrk builds once), this script has a request() function,
-- so wrk calls into Lua for every request. The N requests are formatted once in init(), so that
-- call only picks the next prebuilt string; still, compare its rows only with each other (run.sh
-- measures the no-limit gateway with this script too), not with rows measured with chat.lua.

-- Load chat.lua from the directory of this script: body, method, path, headers and done().
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "chat.lua")

local reqs = {}
local n = 0
local i = 0

-- setup() runs in the main Lua state, once per thread: give each thread its index.
local thread_index = 0
function setup(thread)
  thread:set("thread_index", thread_index)
  thread_index = thread_index + 1
end

function init(args)
  local users = tonumber(args[1] or "64") or 64
  if users < 1 then users = 1 end
  for u = 1, users do
    local h = {}
    for k, v in pairs(wrk.headers) do h[k] = v end  -- includes Host (set by wrk before init)
    h["x-user-id"] = "bench-user-" .. u
    reqs[u] = wrk.format(nil, nil, h, nil)
  end
  n = users
  -- thread_index is a global set by setup(); start the threads on different users.
  i = ((thread_index or 0) * 7) % n
end

function request()
  i = i % n + 1
  return reqs[i]
end
