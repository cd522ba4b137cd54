-- KEYS: members, counts, node counts, node rooms, room channel. ARGV: user,
-- node, member JSON, room, connections to add, join diff JSON.
local n = tonumber(ARGV[5])
redis.call('HINCRBY', KEYS[3], ARGV[2] .. '|' .. ARGV[1], n)
redis.call('HINCRBY', KEYS[4], ARGV[4], n)
local total = redis.call('HINCRBY', KEYS[2], ARGV[1], n)
if total == n then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  redis.call('PUBLISH', KEYS[5], 'p' .. ARGV[6])
end
return redis.call('HVALS', KEYS[1])
