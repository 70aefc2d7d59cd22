-- One toggle request after another, for random users (see writes.lua).
dofile(os.getenv("BENCH_SCENARIOS") .. "/writes.lua")

function init(args) bench.init_thread() end

function request() return bench.toggle(bench.user()) end
