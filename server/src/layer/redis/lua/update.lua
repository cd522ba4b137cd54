-- KEYS: members, room channel. ARGV: user, member JSON, update diff JSON.
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and old ~= ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('PUBLISH', KEYS[2], 'p' .. ARGV[3])
  return 1
end
return 0
