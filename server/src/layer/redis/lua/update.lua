-- KEYS: members, room channel, states. ARGV: user, member JSON, update diff
-- JSON up to the member list. A rename: the member's room state stays.
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and old ~= ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  local m = ARGV[2]
  local state = redis.call('HGET', KEYS[3], ARGV[1])
  if state then
    m = string.sub(m, 1, -2) .. ',"state":' .. state .. '}'
  end
  redis.call('PUBLISH', KEYS[2], 'p' .. ARGV[3] .. m .. ']}')
  return 1
end
return 0
