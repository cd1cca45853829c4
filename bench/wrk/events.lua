-- POST unique alerts to Tocsin (native events) or Alertmanager (API v2).
-- Set by the benchmark through environment variables:
--   BENCH_FORMAT = tocsin | alertmanager
--   BENCH_BATCH  = alerts per request (1: a single event object for Tocsin)
--   BENCH_REPEAT = 1 to send the same alert again and again (the dedup path)
local counter = 0
local threads = {}
local format = os.getenv("BENCH_FORMAT") or "tocsin"
local batch = tonumber(os.getenv("BENCH_BATCH") or "1")
local repeat_alert = os.getenv("BENCH_REPEAT") == "1"

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

local function one()
  counter = counter + 1
  local key = repeat_alert and "same" or string.format("%d-%d-%d", os.time(), id, counter)
  if format == "alertmanager" then
    return string.format(
      '{"labels":{"alertname":"Bench","key":"%s","severity":"critical"},"annotations":{"summary":"bench %s"}}',
      key, key)
  end
  return string.format(
    '{"action":"trigger","dedup_key":"%s","summary":"bench %s","severity":"critical","labels":{"alertname":"Bench"}}',
    key, key)
end

function request()
  local body
  if format == "tocsin" and batch == 1 then
    body = one()
  else
    local items = {}
    for i = 1, batch do items[i] = one() end
    body = "[" .. table.concat(items, ",") .. "]"
  end
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
