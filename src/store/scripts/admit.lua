--[[
  Admit a batch of requests for one or more coupons, all or nothing per request, in arrival order
  within each coupon. Several coupons share one call only where their keys share a node (a single
  Redis); on a cluster each coupon's keys sit in their own slot and the caller sends one call each.

  For each request: inside the issue window, user not yet admitted, stock left -> record the
  user, take one unit and remember the event as pending until the consumer takes it.

  For coupon c = 1..C, four keys:
  KEYS[4c-3] stock     {coupon:<id>}:stock     string, units left
  KEYS[4c-2] meta      {coupon:<id>}:meta      hash: startsAt, endsAt (epoch ms, 0 = unbounded)
  KEYS[4c-1] users     {coupon:<id>}:users     set of admitted user ids
  KEYS[4c]   pending   {coupon:<id>}:pending   hash: event id -> event JSON

  ARGV[1]           now, epoch ms; 0 = use the Redis server clock (one clock for every API process)
  ARGV[1 + c]       n_c, how many requests coupon c has (C = #KEYS / 4 of these)
  then, for each coupon in order, its n_c requests as three values each:
                    user id, event id, event JSON

  Returns a flat array, for each coupon in order: { remaining, code_1, ..., code_n_c } where code is
     1  ACCEPTED
     0  ALREADY_ISSUED
    -1  SOLD_OUT
    -2  NOT_OPEN        (before startsAt or after endsAt)
    -3  NOT_FOUND       (the coupon has no state in Redis)
  and remaining is the coupon's stock left after the batch (-1 when the coupon is unknown).
]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local coupons = #KEYS / 4
local out = {}
local arg = 2 + coupons

for c = 1, coupons do
  local stockKey, metaKey, usersKey, pendingKey = KEYS[4 * c - 3], KEYS[4 * c - 2], KEYS[4 * c - 1], KEYS[4 * c]
  local n = tonumber(ARGV[1 + c])
  local first = #out + 1
  out[first] = -1

  local window = redis.call('HMGET', metaKey, 'startsAt', 'endsAt')
  local stock = tonumber(redis.call('GET', stockKey))
  if stock == nil or window[1] == false then
    for i = 1, n do out[first + i] = -3 end
  else
    local startsAt = tonumber(window[1]) or 0
    local endsAt = tonumber(window[2]) or 0
    local open = (startsAt == 0 or now >= startsAt) and (endsAt == 0 or now < endsAt)

    local taken = 0
    for i = 1, n do
      local base = arg + (i - 1) * 3
      local userId = ARGV[base]
      if not open then
        out[first + i] = -2
      elseif redis.call('SISMEMBER', usersKey, userId) == 1 then
        out[first + i] = 0
      elseif stock - taken <= 0 then
        out[first + i] = -1
      else
        redis.call('SADD', usersKey, userId)
        redis.call('HSET', pendingKey, ARGV[base + 1], ARGV[base + 2])
        taken = taken + 1
        out[first + i] = 1
      end
    end

    if taken > 0 then
      stock = redis.call('DECRBY', stockKey, taken)
    end
    out[first] = stock
  end
  arg = arg + n * 3
end

return out
