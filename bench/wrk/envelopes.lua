-- POST gzip Sentry envelopes, each request the next body of a prepared set (distinct event ids).
-- Set by the benchmark through environment variables:
--   BENCH_BODIES  = a file of gzip bodies, one after another
--   BENCH_OFFSETS = a file of "<offset> <length>" lines, one per body
--   BENCH_PATH    = the envelope URL's path (/api/<project id>/envelope/)
--   BENCH_AUTH    = the X-Sentry-Auth header
local blob = io.open(os.getenv("BENCH_BODIES"), "rb"):read("*a")
local bodies = {}
for line in io.lines(os.getenv("BENCH_OFFSETS")) do
  local offset, length = line:match("(%d+) (%d+)")
  bodies[#bodies + 1] = blob:sub(tonumber(offset) + 1, tonumber(offset) + tonumber(length))
end
local path = os.getenv("BENCH_PATH")
local headers = {
  ["Content-Type"] = "application/x-sentry-envelope",
  ["Content-Encoding"] = "gzip",
  ["X-Sentry-Auth"] = os.getenv("BENCH_AUTH"),
}
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  -- Each thread its own half of the bodies (wrk -t2): no two requests send the same event id
  -- until a thread has sent all of its half. (`threads` is only filled in the main state.)
  share = math.floor(#bodies / 2)
  first = (id - 1) * share
  n = 0
end

function request()
  n = n + 1
  return wrk.format("POST", path, headers, bodies[first + (n % share) + 1])
end
