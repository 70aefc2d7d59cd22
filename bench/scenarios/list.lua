-- GET the default page of a random user's tasks.
dofile(os.getenv("BENCH_SCENARIOS") .. "/common.lua")

function init(args) bench.init_thread() end

function request()
  local user = bench.user()
  return wrk.format("GET", "/api/" .. user.id .. "/tasks/", bench.headers(user))
end
