--[[
  Create or refresh a coupon's admission state from the database's view of it.

  The stock is only set when absent: re-running this (a restart, a re-seed of metadata) must never
  hand out units already taken.

  KEYS[1] stock     {coupon:<id>}:stock
  KEYS[2] meta      {coupon:<id>}:meta

  ARGV[1] total quantity
  ARGV[2] startsAt, epoch ms (0 = unbounded)
  ARGV[3] endsAt, epoch ms (0 = unbounded)
  ARGV[4] name

  Returns the units left.
]]
redis.call('SET', KEYS[1], ARGV[1], 'NX')
redis.call('HSET', KEYS[2], 'total', ARGV[1], 'startsAt', ARGV[2], 'endsAt', ARGV[3], 'name', ARGV[4])
return tonumber(redis.call('GET', KEYS[1]))
