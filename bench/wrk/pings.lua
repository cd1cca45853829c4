-- GET healthchecks-style ping URLs, each request a heartbeat picked at random.
-- Set by the benchmark through environment variables:
--   BENCH_UUIDS = a file with one heartbeat uuid per line
local uuids = {}
for line in io.lines(os.getenv("BENCH_UUIDS")) do
  uuids[#uuids + 1] = line
end
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  -- Each thread its own sequence, so two threads do not ping the same heartbeats in step.
  math.randomseed(os.time() * 1000 + id)
end

function request()
  return wrk.format("GET", "/ping/" .. uuids[math.random(#uuids)])
end
