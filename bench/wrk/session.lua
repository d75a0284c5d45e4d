-- wrk script of the load benchmark (bench/load.sh): every request carries the
-- cookie of a live session, one session per connection (round-robin over a
-- pool of BENCH_SESSIONS sessions, as many as connections).
--
-- BENCH_MODE=seed: start with no cookie; capture the session cookie from each
-- Set-Cookie of the responses (name BENCH_COOKIE_NAME) until the pool is
-- full, sending the captured cookies back from then on; at the end, write the
-- pool to BENCH_COOKIES. Run it against /incr: the first response of each
-- connection creates its session.
-- BENCH_MODE=use: read the pool from BENCH_COOKIES and send it back. A
-- Set-Cookie naming a sid outside the pool (the session was lost) is counted
-- as `fresh`; it must stay 0.
--
-- done() prints one line: BENCH {json}.

local mode = os.getenv("BENCH_MODE") or "use"
local file = os.getenv("BENCH_COOKIES")
local name = os.getenv("BENCH_COOKIE_NAME") or "session"
local want = tonumber(os.getenv("BENCH_SESSIONS") or "32")

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- Per thread.
pool = {}      -- "name=value" strings
known = {}     -- value -> true
fresh = 0
local requests = {}
local next_index = 0
local bare = nil

local function add(cookie)
  pool[#pool + 1] = cookie
  known[cookie] = true
  requests[#requests + 1] = wrk.format(nil, nil, { ["Cookie"] = cookie })
end

function init(args)
  bare = wrk.format(nil, nil)
  if mode == "use" and file then
    local f = io.open(file, "r")
    if f then
      for line in f:lines() do
        if #line > 0 then add(line) end
      end
      f:close()
    end
  end
end

function request()
  if #requests == 0 then
    return bare
  end
  next_index = next_index % #requests + 1
  return requests[next_index]
end

local function session_cookie(headers)
  for key, value in pairs(headers) do
    if string.lower(key) == "set-cookie" then
      local pair = string.match(value, "^([^;]*)")
      local cname, cvalue = string.match(pair or "", "^%s*([^=]+)=(.*)$")
      if cname == name and cvalue and #cvalue > 0 then
        return cname .. "=" .. cvalue
      end
    end
  end
  return nil
end

function response(status, headers, body)
  local cookie = session_cookie(headers)
  if cookie == nil or known[cookie] then
    return
  end
  if mode == "seed" and #pool < want then
    add(cookie)
  elseif mode == "use" then
    fresh = fresh + 1
  end
end

function done(summary, latency, _)
  local fresh_total, sessions = 0, 0
  local merged = {}
  for _, thread in ipairs(threads) do
    fresh_total = fresh_total + (thread:get("fresh") or 0)
    local p = thread:get("pool") or {}
    for _, cookie in ipairs(p) do
      merged[#merged + 1] = cookie
    end
  end
  sessions = #merged
  if mode == "seed" and file then
    local f = assert(io.open(file, "w"))
    for _, cookie in ipairs(merged) do
      f:write(cookie, "\n")
    end
    f:close()
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"errors":%d,"status_errors":%d,"fresh":%d,"sessions":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect + e.read + e.write + e.timeout, e.status, fresh_total, sessions))
end
