-- KEYS: members, counts, node counts, node rooms, room channel. ARGV: user,
-- node, room, leave diff JSON up to the member list. Returns {change,
-- member JSON}: change is 0 (no such connection), 1 (a connection left), 2
-- (the user left) or 6 (the user left and the room is empty).
local f = ARGV[2] .. '|' .. ARGV[1]
local c = tonumber(redis.call('HGET', KEYS[3], f) or '0')
if c <= 0 then return {0, ''} end
if c == 1 then redis.call('HDEL', KEYS[3], f) else redis.call('HINCRBY', KEYS[3], f, -1) end
if redis.call('HINCRBY', KEYS[4], ARGV[3], -1) <= 0 then redis.call('HDEL', KEYS[4], ARGV[3]) end
local total = redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
if total <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  local m = redis.call('HGET', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[1], ARGV[1])
  if m then
    redis.call('PUBLISH', KEYS[5], 'p' .. ARGV[4] .. m .. ']}')
    if redis.call('HLEN', KEYS[1]) == 0 then
      return {6, m}
    end
    return {2, m}
  end
end
return {1, ''}
