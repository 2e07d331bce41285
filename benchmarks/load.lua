-- wrk script of benchmarks/load_benchmark.py: partner keys sending small JSON feeds, paced.
--
-- Environment: LOAD_KEYS (comma-separated keys), LOAD_THREADS (wrk's -t; one
-- connection per thread, so each thread's request and response alternate),
-- LOAD_PER_KEY (feeds each key sends), LOAD_SPAN (seconds they are spread over),
-- LOAD_TAG (makes every SKU of this run its own). Thread n sends for the keys
-- n, n + threads, ...; it stops once all of them are answered. done() prints
-- one "KEY index answered 2xx 429 5xx other" line per key and one "LAT seconds"
-- line per accepted feed, which the harness reads.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } load_timespec;
int clock_gettime(int clock_id, load_timespec *tp);
]]
local clock = ffi.new("load_timespec")
local function now()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) / 1e9
end

local threads = {}
local created = 0

function setup(thread)
  thread:set("id", created)
  created = created + 1
  table.insert(threads, thread)
end

function init(args)
  keys = {}
  for key in string.gmatch(os.getenv("LOAD_KEYS"), "[^,]+") do
    table.insert(keys, key)
  end
  local nthreads = tonumber(os.getenv("LOAD_THREADS"))
  per_key = tonumber(os.getenv("LOAD_PER_KEY"))
  tag = os.getenv("LOAD_TAG")
  mine = {}
  for i = 1, #keys do
    if (i - 1) % nthreads == id then
      table.insert(mine, i)
    end
  end
  sent, answered, ok, limited, failed, other = {}, {}, {}, {}, {}, {}
  for _, i in ipairs(mine) do
    sent[i], answered[i], ok[i], limited[i], failed[i], other[i] = 0, 0, 0, 0, 0, 0
  end
  interval = tonumber(os.getenv("LOAD_SPAN")) / math.max(1, #mine * per_key)
  next_at = now()
  turn, seq, total, current, sent_at = 0, 0, 0, 0, 0
  latencies = {}
end

function delay()
  local wait = next_at - now()
  if wait <= 0 then
    return 0
  end
  return math.floor(wait * 1000)
end

function request()
  for _ = 1, #mine do
    turn = turn % #mine + 1
    if sent[mine[turn]] < per_key then
      break
    end
  end
  current = mine[turn]
  sent[current] = sent[current] + 1
  seq = seq + 1
  next_at = next_at + interval
  local body = string.format(
    '{"products":[{"sku":"L-%s-%d-%d","name":"Load item","price":1.5,"currency":"EUR","quantity":%d}]}',
    tag, current, seq, seq % 1000
  )
  sent_at = now()
  return wrk.format("POST", "/partner/ingest", {
    ["X-API-Key"] = keys[current],
    ["Content-Type"] = "application/json",
  }, body)
end

function response(status, headers, body)
  local i = current
  answered[i] = answered[i] + 1
  total = total + 1
  if status >= 200 and status < 300 then
    ok[i] = ok[i] + 1
    table.insert(latencies, now() - sent_at)
  elseif status == 429 then
    limited[i] = limited[i] + 1
  elseif status >= 500 then
    failed[i] = failed[i] + 1
  else
    other[i] = other[i] + 1
  end
  if total >= #mine * per_key then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    local answered_, ok_, limited_ = thread:get("answered"), thread:get("ok"), thread:get("limited")
    local failed_, other_ = thread:get("failed"), thread:get("other")
    for _, i in ipairs(thread:get("mine")) do
      io.write(string.format("KEY %d %d %d %d %d %d\n", i, answered_[i], ok_[i], limited_[i], failed_[i], other_[i]))
    end
    for _, seconds in ipairs(thread:get("latencies")) do
      io.write(string.format("LAT %.6f\n", seconds))
    end
  end
  local e = summary.errors
  io.write(string.format("ERRORS %d %d %d %d %d\n", e.connect, e.read, e.write, e.status, e.timeout))
end
