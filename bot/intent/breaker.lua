-- One AI provider's circuit breaker, updated atomically with the server's clock.
--
-- KEYS[1]  breaker hash: "open_until" (ms, present only while open or half-open) and
--          1-second buckets "o:<sec>" (successes), "f:<sec>" (failures), "s:<sec>" (slow calls)
-- KEYS[2]  reservation of the single half-open probe (SET NX PX)
-- ARGV[1]  "allow" | "record" | "peek"
--   allow:  ARGV[2] token, ARGV[3] probe ttl ms
--           -> {"closed"|"open"|"probe"|"busy", ms until open_until}
--   record: ARGV[2] token ("" unless the permit was a probe), ARGV[3] "ok"|"fail"|"neutral",
--           ARGV[4] slow "1"|"0", ARGV[5] window s, ARGV[6] min calls, ARGV[7] failure rate,
--           ARGV[8] slow rate, ARGV[9] open ms
--           -> {"closed"|"open"|"half_open"|"opened" (this call tripped it), ms until open_until}
--   peek:   -> {"closed"|"open"|"half_open", ms until open_until}
local key, probe = KEYS[1], KEYS[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local open_until = tonumber(redis.call('HGET', key, 'open_until'))

local function current()
  if open_until == nil then return {'closed', 0} end
  if now < open_until then return {'open', open_until - now} end
  return {'half_open', 0}
end

local op = ARGV[1]
if op == 'peek' then return current() end

if op == 'allow' then
  local state = current()
  if state[1] ~= 'half_open' then return state end
  -- Exactly one caller across all processes gets the probe; the others see it as still open.
  if redis.call('SET', probe, ARGV[2], 'NX', 'PX', ARGV[3]) then return {'probe', 0} end
  return {'busy', 0}
end

local token, outcome, slow = ARGV[2], ARGV[3], ARGV[4] == '1'
local window_s, min_calls = tonumber(ARGV[5]), tonumber(ARGV[6])
local failure_rate, slow_rate, open_ms = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])

local function trip()
  redis.call('DEL', key)
  redis.call('HSET', key, 'open_until', now + open_ms)
  -- Kept a window past half-open so an idle provider still gets its probe, then cleaned by Redis.
  redis.call('PEXPIRE', key, open_ms + window_s * 1000)
  return {'opened', open_ms}
end

if token ~= '' and redis.call('GET', probe) == token then
  redis.call('DEL', probe)
  if outcome == 'neutral' then return current() end
  -- A probe is a window of one call: a failure or a slow call is a 100% rate.
  if outcome == 'ok' and not slow then
    redis.call('DEL', key)
    return {'closed', 0}
  end
  return trip()
end

-- Calls that started before the breaker opened say nothing about the probe; drop them.
if open_until ~= nil or outcome == 'neutral' then return current() end

local sec = math.floor(now / 1000)
redis.call('HINCRBY', key, (outcome == 'ok' and 'o:' or 'f:') .. sec, 1)
if slow then redis.call('HINCRBY', key, 's:' .. sec, 1) end

local calls, failures, slows = 0, 0, 0
local oldest = sec - window_s
local fields = redis.call('HGETALL', key)
for i = 1, #fields, 2 do
  local kind, bucket = string.sub(fields[i], 1, 1), tonumber(string.sub(fields[i], 3))
  if bucket ~= nil and bucket <= oldest then
    redis.call('HDEL', key, fields[i])
  elseif bucket ~= nil then
    local n = tonumber(fields[i + 1])
    if kind == 'o' then calls = calls + n
    elseif kind == 'f' then calls = calls + n; failures = failures + n
    else slows = slows + n end
  end
end
redis.call('PEXPIRE', key, window_s * 1000 + 1000)

if calls >= min_calls and (failures / calls >= failure_rate or slows / calls >= slow_rate) then
  return trip()
end
return {'closed', 0}
