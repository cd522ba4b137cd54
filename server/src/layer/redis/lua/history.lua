-- KEYS: epoch, head, stream. ARGV: candidate epoch, since epoch ('' =
-- none), since offset, limit, max bytes. Returns {epoch, head, recovered,
-- entries}: the gap after `since` when it can be filled exactly within max
-- bytes (of message JSON), else the newest entries within limit and max
-- bytes (at least one).
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
local max = tonumber(ARGV[5])
if ARGV[2] == epoch and since <= head and since + 1 >= oldest then
  local gap = redis.call('XRANGE', KEYS[3], string.format('%d', since + 1), '+')
  local bytes = 0
  for _, e in ipairs(gap) do
    bytes = bytes + #e[2][2]
  end
  if bytes <= max then
    return {epoch, head, 1, gap}
  end
end
local newest = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', ARGV[4])
local out, bytes = {}, 0
for _, e in ipairs(newest) do
  bytes = bytes + #e[2][2]
  if bytes > max and #out > 0 then
    break
  end
  out[#out + 1] = e
end
return {epoch, head, 0, out}
