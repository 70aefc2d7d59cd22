-- GET a random user's pending tasks carrying one of their tags, sorted by due date.
dofile(os.getenv("BENCH_SCENARIOS") .. "/common.lua")

function init(args) bench.init_thread() end

function request()
  local user = bench.user()
  local path = "/api/" .. user.id .. "/tasks/?status=pending&sort=due_date&tag=" .. user.tag
  return wrk.format("GET", path, bench.headers(user))
end
