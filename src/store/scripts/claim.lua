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
for i = 1, #ARGV do
  if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 1 then
    out[i] = 0
  else
    redis.call('HDEL', KEYS[1], ARGV[i])
    out[i] = 1
  end
end
return out
