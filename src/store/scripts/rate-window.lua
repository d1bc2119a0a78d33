--[[
  Count one request in a fixed window, for rate limiting.

  One key per call (a user or an IP), so the script runs on any Redis Cluster slot; the two limits
  of a request are two calls that ioredis pipelines into one round trip.

  KEYS[1] counter   rl:<scope>:<id>
  ARGV[1] window length, ms

  Returns { count in this window, ms until the window ends }.
]]
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { count, ttl }
