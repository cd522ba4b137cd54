-- KEYS: nodes. ARGV: prefix, dead node, cutoff (ms). Removes every
-- connection of a node whose heartbeat is older than the cutoff, once.
-- Returns {rooms, leaves}: -1 when there was nothing to reap, else the
-- node's rooms, and per user who left: room, member JSON, 1 when the room
-- is now empty (else 0).
local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
if (not score) or tonumber(score) > tonumber(ARGV[3]) then return {-1, {}} end
local out = {}
redis.call('ZREM', KEYS[1], ARGV[2])
local P = ARGV[1]
local nr = P .. ':nr:' .. ARGV[2]
local rooms = redis.call('HKEYS', nr)
local mine = ARGV[2] .. '|'
for _, room in ipairs(rooms) do
  local pn = P .. ':pn:' .. room
  local pc = P .. ':pc:' .. room
  local pm = P .. ':pm:' .. room
  local fields = redis.call('HGETALL', pn)
  local leaves = {}
  for i = 1, #fields, 2 do
    local f = fields[i]
    if string.sub(f, 1, #mine) == mine then
      local user = string.sub(f, #mine + 1)
      redis.call('HDEL', pn, f)
      local total = redis.call('HINCRBY', pc, user, -tonumber(fields[i + 1]))
      if total <= 0 then
        redis.call('HDEL', pc, user)
        local m = redis.call('HGET', pm, user)
        redis.call('HDEL', pm, user)
        if m then
          table.insert(leaves, m)
          table.insert(out, room)
          table.insert(out, m)
          table.insert(out, 0)
        end
      end
    end
  end
  if #leaves > 0 then
    redis.call('PUBLISH', P .. ':c:' .. room,
      'p{"room":"' .. room .. '","leaves":[' .. table.concat(leaves, ',') .. ']}')
    if redis.call('HLEN', pm) == 0 then
      out[#out] = 1
    end
  end
end
redis.call('DEL', nr)
return {#rooms, out}
