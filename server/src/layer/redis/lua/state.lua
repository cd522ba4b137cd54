-- KEYS: members, states, room channel. ARGV: user, state JSON ('' clears
-- it), update diff JSON up to the member list. The state is kept while the
-- user is away; a present member's change is published as an update.
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
local m = redis.call('HGET', KEYS[1], ARGV[1])
if m then
  if ARGV[2] ~= '' then
    m = string.sub(m, 1, -2) .. ',"state":' .. ARGV[2] .. '}'
  end
  redis.call('PUBLISH', KEYS[3], 'p' .. ARGV[3] .. m .. ']}')
end
return 1
