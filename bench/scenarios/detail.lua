-- GET one random task of a random user.
dofile(os.getenv("BENCH_SCENARIOS") .. "/common.lua")

function init(args) bench.init_thread() end

function request()
  local user = bench.user()
  local id = user.tasks[math.random(#user.tasks)]
  return wrk.format("GET", "/api/" .. user.id .. "/tasks/" .. id .. "/", bench.headers(user))
end
