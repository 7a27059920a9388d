-- One customer's sliding-window counters: check every window, then charge all of them or none.
-- KEYS[1]  the customer's hash (bot/keys.py rate_limit): one key, so one cluster slot.
-- ARGV     message id, then window_ms_1, limit_1, window_ms_2, limit_2, ... (the tier, so one
--          script serves all)
-- Fields   "<window_ms>:<bucket>" = messages counted in that bucket;
--          "n:<window_ms>:<bucket>" = the over-limit notice for that bucket was already due;
--          "m" = "<message id> <the four values returned>" for the last message checked.
--          A message checked again (its processing was cut short by a crash or failed, and is
--          retried) gets the same answer and is not counted twice. One field is enough: a
--          customer's messages are processed one at a time, in order, so only the last one
--          checked can be retried.
-- Returns  {allowed 0/1, position of the violated window in ARGV (0 if none), retry_after_ms,
--           notify 0/1}. bot/ratelimit.py _Memory is the same algorithm for Redis outages.

local key = KEYS[1]
-- The server's clock, never the app's: hosts may drift, and under effects replication
-- (the only mode since Redis 7) TIME is allowed in scripts.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local message = ARGV[1]
local stored = {}
local last
local flat = redis.call('HGETALL', key)
for i = 1, #flat, 2 do
  if flat[i] == 'm' then
    last = flat[i + 1]
  else
    stored[flat[i]] = tonumber(flat[i + 1])
  end
end
if last then
  local id, a, p, r, n = string.match(last, '^(.*) (%d+) (%d+) (%d+) (%d+)$')
  if id == message then
    return {tonumber(a), tonumber(p), tonumber(r), tonumber(n)}
  end
end

local live, current = {}, {}
local worst, worst_retry, longest = 0, 0, 0
for w = 1, (#ARGV - 1) / 2 do
  local size = tonumber(ARGV[2 * w])
  local limit = tonumber(ARGV[2 * w + 1])
  local bucket = math.floor(now / size)
  local elapsed = now - bucket * size
  local cur_field = size .. ':' .. bucket
  local prev_field = size .. ':' .. (bucket - 1)
  local cur = stored[cur_field] or 0
  local prev = stored[prev_field] or 0
  live[cur_field] = true
  live[prev_field] = true
  live['n:' .. cur_field] = true
  current[w] = cur_field
  if size > longest then
    longest = size
  end
  -- Cloudflare's estimate: the previous bucket weighted by its overlap with the sliding window.
  if prev * (size - elapsed) / size + cur + 1 > limit then
    local room = limit - 1 - cur
    local retry
    if room >= 0 then
      -- Still this bucket: wait until the previous bucket's weight has decayed enough.
      retry = size - room * size / prev - elapsed
    else
      -- This bucket is full: the next one admits it once this bucket's weight has decayed.
      retry = size - elapsed + size - (limit - 1) * size / cur
    end
    retry = math.max(1, math.ceil(retry))
    -- Report the most restrictive window: the one that keeps the customer waiting longest.
    if retry > worst_retry then
      worst, worst_retry = w, retry
    end
  end
end

-- Anything older than the previous bucket no longer counts (it covers idle gaps of any length).
local stale = {}
for field in pairs(stored) do
  if not live[field] then
    stale[#stale + 1] = field
  end
end
if #stale > 0 then
  redis.call('HDEL', key, unpack(stale))
end

local notify = 0
if worst == 0 then
  for w = 1, #current do
    redis.call('HINCRBY', key, current[w], 1)
  end
else
  notify = redis.call('HSETNX', key, 'n:' .. current[worst], 1)
end
if worst == 0 or notify == 1 then
  -- A previous bucket must outlive its window by a whole window, or estimates run low.
  redis.call('PEXPIRE', key, 2 * longest)
end
local answer = {0, worst, worst_retry, notify}
if worst == 0 then
  answer = {1, 0, 0, 0}
end
redis.call('HSET', key, 'm', message .. ' ' .. table.concat(answer, ' '))
return answer
