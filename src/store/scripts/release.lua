--[[
  Give back an admission whose event never reached Kafka, unless the consumer already took it.

  Called when the send to Kafka failed. A failed send can still have been written (a timeout after
  the broker appended it), so the consumer "claims" events (claim.lua) before persisting them and
  this script only releases an event that is still pending. Whichever runs first wins, atomically.

  KEYS[1] stock     {coupon:<id>}:stock
  KEYS[2] users     {coupon:<id>}:users
  KEYS[3] pending   {coupon:<id>}:pending
  KEYS[4] released  {coupon:<id>}:released

  ARGV[1] event id
  ARGV[2] user id

  Returns
    1  released: stock given back, user may try again, the consumer will skip the event
    0  not released: the consumer already took the event, so it is (or will be) persisted
]]
if redis.call('HDEL', KEYS[3], ARGV[1]) == 0 then
  return 0
end
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('INCR', KEYS[1])
redis.call('SADD', KEYS[4], ARGV[1])
return 1
