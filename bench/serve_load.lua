-- wrk script for bench/serve_load.sh: POSTs one route's JSON body with the bearer token, stops
-- after a fixed number of responses per thread, and reports status counts and percentiles.
-- Arguments (after `--`): route, responses per thread, token.

local threads = {}

-- wrk's main thread sleeps for the whole -d duration even after every thread has stopped, so
-- its summary duration is useless here: each thread notes wall-clock times itself.
local function now()
  local pipe = io.popen("date +%s.%N")
  local value = tonumber(pipe:read("*l"))
  pipe:close()
  return value
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local route = args[1]
  limit = tonumber(args[2])
  wrk.method = "POST"
  wrk.path = "/api/" .. route
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[3]
  if route == "lead_normalizer" then
    wrk.body = '{"firstName":"Ava","lastName":"Ng","email":" AVA@Example.COM ","phone":"(555) 111-2222"}'
    expected = 200
  else
    wrk.body = '{"text":"load test"}'
    expected = 202
  end
  responses = 0
  unexpected = 0
  started = now()
  finished = started
  status_503 = 0
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= expected then
    unexpected = unexpected + 1
    if status == 503 then status_503 = status_503 + 1 end
  end
  if responses == limit then
    finished = now()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local total, bad, busy = 0, 0, 0
  local first, last = nil, nil
  for _, thread in ipairs(threads) do
    local started, finished = thread:get("started"), thread:get("finished")
    if first == nil or started < first then first = started end
    if last == nil or finished > last then last = finished end
    total = total + thread:get("responses")
    bad = bad + thread:get("unexpected")
    busy = busy + thread:get("status_503")
  end
  local seconds = last - first
  io.write(string.format("responses %d in %.3f s: %.0f req/s\n", total, seconds, total / seconds))
  io.write(string.format("unexpected statuses %d (503: %d); socket errors connect %d read %d write %d timeout %d\n",
    bad, busy, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
  io.write(string.format("latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
