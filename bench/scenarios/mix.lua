-- 70 % reads (35 % list, 35 % detail), 20 % writes (10 % toggle, 10 % update with If-Match),
-- 10 % creates: a frontend's traffic, for random users.
dofile(os.getenv("BENCH_SCENARIOS") .. "/writes.lua")

function init(args) bench.init_thread() end

function request()
  local user = bench.user()
  local roll = math.random(100)
  if roll <= 35 then
    return wrk.format("GET", "/api/" .. user.id .. "/tasks/", bench.headers(user))
  elseif roll <= 70 then
    local id = user.tasks[math.random(#user.tasks)]
    return wrk.format("GET", "/api/" .. user.id .. "/tasks/" .. id .. "/", bench.headers(user))
  elseif roll <= 80 then
    return bench.toggle(user)
  elseif roll <= 90 then
    return bench.update(user)
  end
  return bench.create(user)
end
