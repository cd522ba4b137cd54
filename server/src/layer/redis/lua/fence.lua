-- KEYS: epoch. ARGV: the epoch a node knows, a new epoch. Called when a
-- node delivered offsets Redis no longer has (a failover or a restart lost
-- acknowledged writes): new messages would reuse those offsets, so the
-- epoch changes and every client is told `recovered: false`. Whoever
-- notices first changes it; the others get the new one. Returns the epoch.
local e = redis.call('GET', KEYS[1])
if (not e) or e == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return ARGV[2]
end
return e
