--[[
  Admit a batch of requests for one coupon, all or nothing per request, in arrival order.

  For each request: inside the issue window, user not yet admitted, stock left -> record the
  user, take one unit and remember the event as pending until the consumer takes it.

  KEYS[1] stock     {coupon:<id>}:stock     string, units left
  KEYS[2] meta      {coupon:<id>}:meta      hash: startsAt, endsAt (epoch ms, 0 = unbounded)
  KEYS[3] users     {coupon:<id>}:users     set of admitted user ids
  KEYS[4] pending   {coupon:<id>}:pending   hash: event id -> event JSON

  ARGV[1]           now, epoch ms; 0 = use the Redis server clock (one clock for every API process)
  ARGV[2 + 3k]      user id of request k
  ARGV[3 + 3k]      event id of request k
  ARGV[4 + 3k]      event JSON of request k

  Returns a flat array: { remaining, code_1, code_2, ... } where code is
     1  ACCEPTED
     0  ALREADY_ISSUED
    -1  SOLD_OUT
    -2  NOT_OPEN        (before startsAt or after endsAt)
    -3  NOT_FOUND       (the coupon has no state in Redis)
  and remaining is the stock left after the batch (-1 when the coupon is unknown).
]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local n = (#ARGV - 1) / 3
local out = { -1 }

local window = redis.call('HMGET', KEYS[2], 'startsAt', 'endsAt')
local stock = tonumber(redis.call('GET', KEYS[1]))
if stock == nil or window[1] == false then
  for i = 1, n do out[i + 1] = -3 end
  return out
end

local startsAt = tonumber(window[1]) or 0
local endsAt = tonumber(window[2]) or 0
local open = (startsAt == 0 or now >= startsAt) and (endsAt == 0 or now < endsAt)

local taken = 0
for i = 1, n do
  local base = 2 + (i - 1) * 3
  local userId = ARGV[base]
  if not open then
    out[i + 1] = -2
  elseif redis.call('SISMEMBER', KEYS[3], userId) == 1 then
    out[i + 1] = 0
  elseif stock - taken <= 0 then
    out[i + 1] = -1
  else
    redis.call('SADD', KEYS[3], userId)
    redis.call('HSET', KEYS[4], ARGV[base + 1], ARGV[base + 2])
    taken = taken + 1
    out[i + 1] = 1
  end
end

if taken > 0 then
  stock = redis.call('DECRBY', KEYS[1], taken)
end
out[1] = stock
return out
