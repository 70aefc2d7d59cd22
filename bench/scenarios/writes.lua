-- The write requests, shared by create, toggle, update and mix. Writes of one task never overlap
-- within a thread (in-flight ids are skipped), and an update sends the ETag it last saw, so under
-- load a 412 would mean a real lost-update bug, not a benchmark artefact.
dofile(os.getenv("BENCH_SCENARIOS") .. "/common.lua")

local PRIORITIES = { "none", "low", "medium", "high" }

function bench.on_response(status, headers, body)
  local id = tonumber(string.match(body or "", '^{"id":(%d+)'))
  if id then
    bench.inflight[id] = nil
    local version = tonumber(string.match(body, '"version":(%d+)'))
    if version then bench.versions[id] = version end
  end
end

function bench.create(user)
  bench.counter = bench.counter + 1
  local headers = bench.headers(user)
  headers["Content-Type"] = "application/json"
  headers["Idempotency-Key"] = string.format("bench-%d-%d-%d-%d", index or 0, os.time(), bench.counter,
    math.random(1000000000))
  local body = string.format(
    '{"title": "Bench task %d", "description": "Created under load.", "priority": "%s", '
      .. '"due_date": "2027-01-%02dT09:00:00Z", "tags": ["bench", "%s"]}',
    bench.counter, PRIORITIES[1 + bench.counter % 4], 1 + bench.counter % 28, user.tag)
  return wrk.format("POST", "/api/" .. user.id .. "/tasks/", headers, body)
end

function bench.toggle(user)
  local id = bench.free_task(user)
  if not id then return bench.create(user) end
  bench.inflight[id] = true
  return wrk.format("PATCH", "/api/" .. user.id .. "/tasks/" .. id .. "/complete/", bench.headers(user))
end

function bench.update(user)
  local id = bench.free_task(user)
  if not id then return bench.create(user) end
  bench.inflight[id] = true
  bench.counter = bench.counter + 1
  local headers = bench.headers(user)
  headers["Content-Type"] = "application/json"
  headers["If-Match"] = '"' .. (bench.versions[id] or bench.data.versions[id] or 1) .. '"'
  local body = string.format('{"title": "Edited %d", "priority": "%s"}', bench.counter,
    PRIORITIES[1 + bench.counter % 4])
  return wrk.format("PATCH", "/api/" .. user.id .. "/tasks/" .. id .. "/", headers, body)
end
