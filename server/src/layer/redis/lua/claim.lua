-- Redis Cluster. KEYS: nodes (zset), the dead node's room index (set).
-- ARGV: dead node, cutoff (ms). Claims a node whose heartbeat is older than
-- the cutoff, once: removes it and its index and returns its rooms (each is
-- then cleaned by reap_room.lua, in the room's own slot); nil if it is alive
-- or another node claimed it.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not score) or tonumber(score) > tonumber(ARGV[2]) then return false end
redis.call('ZREM', KEYS[1], ARGV[1])
local rooms = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[2])
return rooms
