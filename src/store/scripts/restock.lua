--[[
  Add units to a coupon's stock.

  KEYS[1] stock     {coupon:<id>}:stock
  KEYS[2] meta      {coupon:<id>}:meta

  ARGV[1] units to add (positive integer)

  Returns the units left, or -1 when the coupon has no state in Redis.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
redis.call('HINCRBY', KEYS[2], 'total', ARGV[1])
return redis.call('INCRBY', KEYS[1], ARGV[1])
