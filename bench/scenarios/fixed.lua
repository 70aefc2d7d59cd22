-- GET one fixed path (BENCH_PATH) as the first user of the data file: the scale measurements.
dofile(os.getenv("BENCH_SCENARIOS") .. "/common.lua")

function init(args) bench.init_thread() end

local path = os.getenv("BENCH_PATH")

function request()
  local user = bench.data.users[1]
  return wrk.format("GET", path, bench.headers(user))
end
