-- KEYS: members, counts, node counts, node rooms, room channel. ARGV: user,
-- node, member JSON, room, this node's connections (absolute), join diff
-- JSON, leave diff JSON up to the member list. Idempotent: sets the node's
-- count for the user instead of adding to it.
local f = ARGV[2] .. '|' .. ARGV[1]
local n = tonumber(ARGV[5])
local old = tonumber(redis.call('HGET', KEYS[3], f) or '0')
local d = n - old
if d == 0 then return 0 end
if n == 0 then redis.call('HDEL', KEYS[3], f) else redis.call('HSET', KEYS[3], f, n) end
if redis.call('HINCRBY', KEYS[4], ARGV[4], d) <= 0 then redis.call('HDEL', KEYS[4], ARGV[4]) end
local total = redis.call('HINCRBY', KEYS[2], ARGV[1], d)
if total <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  local m = redis.call('HGET', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[1], ARGV[1])
  if m then redis.call('PUBLISH', KEYS[5], 'p' .. ARGV[7] .. m .. ']}') end
elseif total == d then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  redis.call('PUBLISH', KEYS[5], 'p' .. ARGV[6])
end
return 1
