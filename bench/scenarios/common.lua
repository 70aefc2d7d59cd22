-- Shared by every scenario: the users and their tokens (a Lua file written by bench/run.py, named by
-- BENCH_DATA), each wrk thread's own disjoint share of them, status counting, and one JSON line of
-- results printed by done() for run.py to read.
local data = dofile(os.getenv("BENCH_DATA"))
bench = { data = data, threads = {}, mine = {}, inflight = {}, versions = {}, counter = 0 }

local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("index", thread_count - 1)
  thread:set("nthreads", tonumber(os.getenv("BENCH_THREADS") or "2"))
  table.insert(bench.threads, thread)
end

function bench.init_thread()
  -- Each thread drives its own users, so that two threads never write the same task at once.
  local index, n = index or 0, nthreads or 1
  math.randomseed(os.time() + index * 7919)
  for position, user in ipairs(data.users) do
    if (position - 1) % n == index then table.insert(bench.mine, user) end
  end
  if #bench.mine == 0 then bench.mine = data.users end
  statuses = {}
end

function bench.user()
  return bench.mine[math.random(#bench.mine)]
end

function bench.headers(user)
  return { ["Authorization"] = "Bearer " .. user.token, ["Accept"] = "application/json" }
end

-- A task of the user that no other request of this thread is writing right now.
function bench.free_task(user)
  for _ = 1, 20 do
    local id = user.tasks[math.random(#user.tasks)]
    if not bench.inflight[id] then return id end
  end
  return nil
end

function bench.count(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function response(status, headers, body)
  bench.count(status)
  if bench.on_response then bench.on_response(status, headers, body) end
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(bench.threads) do
    local counts = thread:get("statuses")
    if counts then
      for status, n in pairs(counts) do merged[status] = (merged[status] or 0) + n end
    end
  end
  local parts = {}
  local non2xx = 0
  for status, n in pairs(merged) do
    table.insert(parts, string.format('"%d": %d', status, n))
    if status < 200 or status > 299 then non2xx = non2xx + n end
  end
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "socket_errors": %d, "timeouts": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, "non2xx": %d, '
      .. '"statuses": {%s}}\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    non2xx, table.concat(parts, ", ")))
end
