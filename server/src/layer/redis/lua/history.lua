-- KEYS: epoch, head, stream. ARGV: candidate epoch, since epoch ('' =
-- none), since offset, limit. Returns {epoch, head, recovered, entries}.
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local head = tonumber(redis.call('GET', KEYS[2]) or '0')
local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)
local oldest = head + 1
if #first > 0 then
  oldest = tonumber(string.match(first[1][1], '^(%d+)'))
end
local since = tonumber(ARGV[3])
if ARGV[2] == epoch and since <= head and since + 1 >= oldest then
  return {epoch, head, 1, redis.call('XRANGE', KEYS[3], string.format('%d', since + 1), '+')}
end
return {epoch, head, 0, redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', ARGV[4])}
