-- The memory part's load: half list (default page), half detail, for random users.
dofile(os.getenv("BENCH_SCENARIOS") .. "/common.lua")

function init(args) bench.init_thread() end

function request()
  local user = bench.user()
  if math.random(2) == 1 then
    return wrk.format("GET", "/api/" .. user.id .. "/tasks/", bench.headers(user))
  end
  local id = user.tasks[math.random(#user.tasks)]
  return wrk.format("GET", "/api/" .. user.id .. "/tasks/" .. id .. "/", bench.headers(user))
end
