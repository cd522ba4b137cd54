-- KEYS: members, counts, node counts, node rooms, room channel, states.
-- ARGV: user, node, member JSON, room, connections to add, join diff JSON up
-- to the member list. Returns {member JSONs, state pairs (user, state),
-- change}: change is 0, 1 (the user arrived) or 3 (arrived in an empty room).
local n = tonumber(ARGV[5])
redis.call('HINCRBY', KEYS[3], ARGV[2] .. '|' .. ARGV[1], n)
redis.call('HINCRBY', KEYS[4], ARGV[4], n)
local total = redis.call('HINCRBY', KEYS[2], ARGV[1], n)
local change = 0
if total == n then
  change = 1
  if redis.call('HLEN', KEYS[1]) == 0 then
    change = 3
  end
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  local m = ARGV[3]
  local state = redis.call('HGET', KEYS[6], ARGV[1])
  if state then
    m = string.sub(m, 1, -2) .. ',"state":' .. state .. '}'
  end
  redis.call('PUBLISH', KEYS[5], 'p' .. ARGV[6] .. m .. ']}')
end
return {redis.call('HVALS', KEYS[1]), redis.call('HGETALL', KEYS[6]), change}
