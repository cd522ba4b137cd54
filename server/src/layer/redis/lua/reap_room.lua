-- Redis Cluster. KEYS: members, counts, node counts, room channel, node
-- room counts (all of one room). ARGV: dead node, leave diff JSON up to the
-- member list. Removes the dead node's connections from the room and
-- publishes the users who left with them. Idempotent. Returns, per user
-- who left: member JSON, 1 when the room is now empty (else 0).
local mine = ARGV[1] .. '|'
local fields = redis.call('HGETALL', KEYS[3])
local leaves = {}
for i = 1, #fields, 2 do
  local f = fields[i]
  if string.sub(f, 1, #mine) == mine then
    local user = string.sub(f, #mine + 1)
    redis.call('HDEL', KEYS[3], f)
    local total = redis.call('HINCRBY', KEYS[2], user, -tonumber(fields[i + 1]))
    if total <= 0 then
      redis.call('HDEL', KEYS[2], user)
      local m = redis.call('HGET', KEYS[1], user)
      redis.call('HDEL', KEYS[1], user)
      if m then table.insert(leaves, m) end
    end
  end
end
redis.call('HDEL', KEYS[5], ARGV[1])
local out = {}
if #leaves > 0 then
  redis.call('PUBLISH', KEYS[4], 'p' .. ARGV[2] .. table.concat(leaves, ',') .. ']}')
  for _, m in ipairs(leaves) do
    table.insert(out, m)
    table.insert(out, '0')
  end
  if redis.call('HLEN', KEYS[1]) == 0 then
    out[#out] = '1'
  end
end
return out
