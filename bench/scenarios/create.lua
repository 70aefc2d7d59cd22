-- One create request after another, for random users (see writes.lua).
dofile(os.getenv("BENCH_SCENARIOS") .. "/writes.lua")

function init(args) bench.init_thread() end

function request() return bench.create(bench.user()) end
