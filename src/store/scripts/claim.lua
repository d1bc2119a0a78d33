--[[
  The consumer takes events of one coupon before writing them to the database.

  An event released by the API (release.lua) must not become a row; every other event must, even
  if it is delivered again after a crash, so a claim is idempotent: it only drops the pending entry.

  KEYS[1] pending   {coupon:<id>}:pending
  KEYS[2] released  {coupon:<id>}:released

  ARGV[1..n] event ids

  Returns an array of n flags: 1 = persist it, 0 = skip it (it was released).
]]
local out = {}
if redis.call('SCARD', KEYS[2]) == 0 then
  -- Nothing released, the usual case: drop the pending entries a few thousand to a call rather
  -- than one by one (a backlog's batch claims some 18,000 events at once). unpack() is bounded by
  -- Lua's stack, hence the slices.
  for from = 1, #ARGV, 4000 do
    local to = math.min(from + 3999, #ARGV)
    redis.call('HDEL', KEYS[1], unpack(ARGV, from, to))
    for i = from, to do
      out[i] = 1
    end
  end
  return out
end
for i = 1, #ARGV do
  if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 1 then
    out[i] = 0
  else
    redis.call('HDEL', KEYS[1], ARGV[i])
    out[i] = 1
  end
end
return out
